import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firesBetween, lastFiresBetween } from '../src/common/cron.js';
import { parseRunbook } from '../src/runbooks/runbook.parser.js';
import { DataSource } from 'typeorm';
import { fireLockName, Scheduler } from '../src/schedules/scheduler.js';
import { startTestApp, type TestApp } from './support/app.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

/**
 * Runbook schedules (#17) through two real app instances on one Postgres, each with its own
 * scheduler: the clock is driven (Scheduler.now, SCHEDULER_TICK=off), never waited for.
 */
const minute = (t: string) => new Date(`2026-06-01T${t}Z`);

const RUNBOOKS: Record<string, string> = {
  minutely: `name: minutely
description: Fires every minute
kind: remediation
options:
  - { name: who, type: string, required: true }
steps:
  - name: hi
    on: local
    run: echo hello {{ options.who }}
schedules:
  - { name: every-minute, cron: '* 10 * * *', options: { who: cron } }
`,
  outage: `name: outage
description: One schedule per missed-run policy
kind: remediation
steps:
  - name: hi
    on: local
    run: echo caught up
schedules:
  - { name: skip, cron: '*/1 11 * * *' }
  - { name: once, cron: '*/1 11 * * *', missed: run-once }
  - { name: all, cron: '*/1 11 * * *', missed: run-all, maxCatchUp: 2 }
`,
  overlap: `name: overlap
description: Refuses a second run while one is going
kind: remediation
concurrency: { policy: reject }
steps:
  - name: wait
    on: local
    run: sleep 30
schedules:
  - { name: fast, cron: '0 * 12 * * *' }
  - { name: zoned, cron: '30 2 * * *', timezone: Europe/Berlin, enabled: false }
`,
  waitline: `name: waitline
description: Queues a second run behind the one going
kind: remediation
concurrency: { policy: queue }
steps:
  - name: wait
    on: local
    run: sleep 30
schedules:
  - { name: fast, cron: '0 * 12 * * *' }
`,
  sturdy: `name: sturdy
description: Fires every minute; its claims may be left by a dead process
kind: remediation
steps:
  - { name: hi, on: local, run: echo sturdy }
schedules:
  - { name: fast, cron: '0 * 13 * * *' }
`,
};

describe('schedules (two app instances, one Redis and one Postgres)', () => {
  let a: TestApp;
  let b: TestApp;
  let c: TestApp | undefined;
  let redis: RedisServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-schedules-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    // One SECRET_KEY, as a deployment's processes share (passport's strategies are global: two
    // apps in one test process verify tokens with the last one's key).
    redis = await startRedis(); // one Redis and one Postgres, as a deployment's processes share
    const env = {
      RUNBOOKS_DIR: dir,
      SCHEDULER_TICK: 'off',
      SECRET_KEY: randomBytes(32).toString('hex'),
      REDIS_URL: redis.url,
    };
    a = await startTestApp(env);
    b = await startTestApp(env, a.db);
  });
  afterAll(async () => {
    await c?.app.close();
    await b?.app.close(); // shares a's database: a.close drops it
    await a?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, auth = a.adminAuth) => a.http().get(path).set('Authorization', auth);
  /** Both processes tick at `at` at once, as their timers would. */
  const tickBoth = (at: Date) =>
    Promise.all([a.app.get(Scheduler).tick(at), b.app.get(Scheduler).tick(at)]);
  const runsOf = async (runbook: string) =>
    (await get(`/executions?runbook=${runbook}&limit=100`)).body as Array<{
      id: string;
      trigger: string;
      actor: string;
      status: string;
      options: Record<string, unknown>;
    }>;
  const history = async (id: string) =>
    (await get(`/schedules/${id}/history`)).body as Array<{
      fireTime: string;
      kind: string;
      status: string;
      executionId: string | null;
      error: string | null;
    }>;

  it('every minute for three minutes on two processes: exactly three runs, as the schedule', async () => {
    await tickBoth(minute('10:00:30')); // first sight: fires from now on
    for (const t of ['10:01:01', '10:02:00', '10:03:05']) {
      await tickBoth(minute(t));
      await tickBoth(minute(t)); // a repeated tick changes nothing
    }
    const runs = await runsOf('minutely');
    expect(runs).toHaveLength(3);
    for (const r of runs)
      expect(r).toMatchObject({
        trigger: 'schedule',
        actor: 'schedule:minutely/every-minute',
        options: { who: 'cron' },
      });
    const h = await history('minutely:every-minute');
    expect(h.map((f) => [f.fireTime, f.kind, f.status])).toEqual([
      ['2026-06-01T10:03:00.000Z', 'scheduled', 'started'],
      ['2026-06-01T10:02:00.000Z', 'scheduled', 'started'],
      ['2026-06-01T10:01:00.000Z', 'scheduled', 'started'],
    ]);
    expect(new Set(h.map((f) => f.executionId))).toEqual(new Set(runs.map((r) => r.id)));
    // Each run is audited as started by the schedule's identity.
    const audit = (await get(`/audit?subjectId=${runs[0].id}&limit=10`)).body.items as Array<{
      action: string;
      actor: string;
      details: { trigger: string };
    }>;
    expect(audit.find((e) => e.action === 'execution.start')).toMatchObject({
      actor: 'schedule:minutely/every-minute',
      details: { trigger: 'schedule' },
    });
  });

  it('after downtime across fire times: skip, run-once and run-all (bounded) as each says, recorded', async () => {
    await tickBoth(minute('11:00:10')); // 11:00 is 10 s late: on time
    await tickBoth(minute('11:01:00'));
    // All processes down from 11:01 to 11:10:20: nine fire times missed, 11:10 is on time.
    await tickBoth(minute('11:10:20'));
    const byKind = async (id: string) =>
      (await history(id)).reduce<Record<string, number>>((acc, f) => {
        const k = `${f.kind}/${f.status}`;
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {});
    expect(await byKind('outage:skip')).toEqual({ 'scheduled/started': 3, 'missed/skipped': 8 });
    expect(await byKind('outage:once')).toEqual({
      'scheduled/started': 3,
      'catch-up/started': 1,
      'missed/skipped': 7,
    });
    expect(await byKind('outage:all')).toEqual({
      'scheduled/started': 3,
      'catch-up/started': 2,
      'missed/skipped': 6,
    });
    // The catch-ups are the newest missed times.
    const all = await history('outage:all');
    expect(all.filter((f) => f.kind === 'catch-up').map((f) => f.fireTime)).toEqual([
      '2026-06-01T11:09:00.000Z',
      '2026-06-01T11:08:00.000Z',
    ]);
    expect(await runsOf('outage')).toHaveLength(3 + 4 + 5);
    // The outage is audited once per schedule, whichever process saw it.
    const audit = (await get('/audit?action=schedule.missed&limit=50')).body.items as Array<{
      subjectId: string;
      details: { missed: number; policy: string };
    }>;
    expect(audit.filter((e) => e.subjectId === 'outage:once')).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({ missed: 8, policy: 'run-once' }),
      }),
    ]);
  });

  it('overlap follows the concurrency policy: a refused fire says so in the history and on the execution list', async () => {
    await tickBoth(new Date('2026-06-01T12:00:00.500Z'));
    await tickBoth(minute('12:01:30')); // 12:01, while the 12:00 run still sleeps: refused
    const h = await history('overlap:fast');
    expect(h.map((f) => f.status)).toEqual(['refused', 'started']);
    expect(h[0].error).toMatch(/conflict|running|queued/i);
    const runs = await runsOf('overlap');
    const first = runs.find((r) => r.id === h[1].executionId)!;
    // The refused fire is an execution too: final `refused`, as the schedule, naming the run it
    // conflicts with; it never ran anything (no step results, no start).
    expect(h[0].executionId).toBeTruthy();
    const refused = await get(`/executions?runbook=overlap&status=refused&limit=10`);
    expect(refused.body).toEqual([
      expect.objectContaining({
        id: h[0].executionId,
        status: 'refused',
        trigger: 'schedule',
        actor: 'schedule:overlap/fast',
        error: expect.stringContaining(first.id),
        startedAt: null,
      }),
    ]);
    expect(h[0]).toMatchObject({ executionStatus: 'refused' });
    expect((await get(`/executions/${h[0].executionId}`)).body.results ?? []).toEqual([]);
    const audit = (await get(`/audit?subjectId=${h[0].executionId}&limit=10`)).body.items as Array<{
      action: string;
      actor: string;
      details: { refusal?: { conflicts?: Array<{ execution: string }> } };
    }>;
    expect(audit.map((e) => [e.action, e.actor])).toEqual([
      ['execution.refused', 'schedule:overlap/fast'],
    ]);
    expect(audit[0].details.refusal?.conflicts?.[0].execution).toBe(first.id);
    await a.http().post(`/executions/${first.id}/cancel`).set('Authorization', a.adminAuth);

    // With queue, the second fire's run is queued behind the first, and says so in both places.
    const wl = await history('waitline:fast');
    expect(wl.map((f) => f.status)).toEqual(['started', 'started']);
    const queued = (await get(`/executions/${wl[0].executionId}`)).body;
    expect(queued).toMatchObject({ status: 'queued', actor: 'schedule:waitline/fast' });
    expect(wl[0]).toMatchObject({ executionStatus: 'queued' });
    for (const f of wl)
      await a.http().post(`/executions/${f.executionId}/cancel`).set('Authorization', a.adminAuth);
  });

  it('a claim whose process died before its run existed: started again by one process, linked if its run exists, else lost', async () => {
    const ds = a.app.get(DataSource);
    const id = 'sturdy:fast';
    await tickBoth(minute('13:00:30')); // 13:00 fires (the earlier ticks set the mark)
    const before = (await runsOf('sturdy')).map((r) => r.id);
    // A claim left by a process that died (made a minute ago, nobody holds its lock).
    const leave = (t: string, attempts = 1) =>
      ds.query(
        `INSERT INTO schedule_fires (schedule_id, fire_time, kind, status, attempts, created_at)
         VALUES ($1, $2, 'scheduled', 'claimed', $3, now() - interval '1 minute')`,
        [id, minute(t), attempts],
      );
    await leave('13:01:00');
    // One whose process is alive and still starting it: it holds the fire time's lock.
    await leave('13:02:00');
    const live = ds.createQueryRunner();
    await live.connect();
    await live.startTransaction();
    await live.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      0x46425346,
      fireLockName(id, minute('13:02:00')),
    ]);
    try {
      await tickBoth(minute('13:01:40'));
      await tickBoth(minute('13:01:45'));
      let h = await history(id);
      const at = (t: string) => h.find((f) => f.fireTime === minute(t).toISOString())!;
      expect(at('13:01:00')).toMatchObject({ status: 'started', attempts: 2 });
      expect(at('13:02:00')).toMatchObject({ status: 'claimed', executionId: null });
      const retried = at('13:01:00').executionId;
      const since = async () =>
        (await runsOf('sturdy')).map((r) => r.id).filter((r) => !before.includes(r));
      expect(await since()).toEqual([retried]);

      // Its run was created but the process died before the fire said so: linked, not run again.
      await ds.query(
        `UPDATE schedule_fires SET status = 'claimed', execution_id = NULL, attempts = 1,
                created_at = now() - interval '1 minute'
          WHERE schedule_id = $1 AND fire_time = $2`,
        [id, minute('13:01:00')],
      );
      await tickBoth(minute('13:01:50'));
      h = await history(id);
      expect(at('13:01:00')).toMatchObject({ status: 'started', executionId: retried });
      expect(await since()).toHaveLength(1);

      // The live process ends without a run (its lock goes): now it is started, once.
      await live.rollbackTransaction();
      await tickBoth(minute('13:02:10'));
      h = await history(id);
      expect(at('13:02:00')).toMatchObject({ status: 'started', attempts: 2 });
      expect(await since()).toHaveLength(2);
    } finally {
      if (live.isTransactionActive) await live.rollbackTransaction();
      await live.release();
    }

    // A retry that was lost too: recorded lost, audited, not run a third time.
    await leave('13:03:00', 2);
    await tickBoth(minute('13:03:20'));
    const h = await history(id);
    expect(h.find((f) => f.fireTime === minute('13:03:00').toISOString())).toMatchObject({
      status: 'lost',
      executionId: null,
      error: expect.stringMatching(/stopped before its run was created, twice/),
    });
    expect(await runsOf('sturdy')).toHaveLength(before.length + 2);
    const lost = (await get(`/audit?action=schedule.lost&subjectId=${id}&limit=5`)).body.items;
    expect(lost).toHaveLength(1);
  });

  it('lists schedules with next fire times in UTC and their zone; pause and resume are audited and checked', async () => {
    const list = (await get('/schedules?next=3')).body as Array<Record<string, unknown>>;
    const zoned = list.find((s) => s.id === 'overlap:zoned')!;
    expect(zoned).toMatchObject({ timezone: 'Europe/Berlin', enabled: false, next: [] });
    const every = list.find((s) => s.id === 'minutely:every-minute')!;
    expect(every).toMatchObject({ paused: false, cron: '* 10 * * *', timezone: 'UTC' });
    expect(every.next).toHaveLength(3);
    // The later ticks (11:00 on) found 10:04-10:59 missed: skipped (the default policy).
    expect(every.last).toMatchObject({
      kind: 'missed',
      status: 'skipped',
      fireTime: '2026-06-01T10:59:00.000Z',
      executionId: null,
    });
    const [started] = (await history('minutely:every-minute')).filter((f) => f.executionId);
    expect(started).toMatchObject({ status: 'started', fireTime: '2026-06-01T10:03:00.000Z' });

    // A viewer sees it but may not pause it (403, audited); an unknown id is 404, a bad one 400.
    const viewer = await a.userWithRoles(['viewer']);
    const denied = await a
      .http()
      .post('/schedules/minutely:every-minute/pause')
      .set('Authorization', viewer.auth);
    expect(denied.status).toBe(403);
    expect((await get('/schedules/minutely:nope')).status).toBe(404);
    expect((await get('/schedules/NOT%20AN%20ID')).status).toBe(400);

    const operator = await a.userWithRoles(['operator']);
    const paused = await a
      .http()
      .post('/schedules/minutely:every-minute/pause')
      .set('Authorization', operator.auth);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pausedBy: operator.username, next: [] });
    await tickBoth(new Date('2026-06-02T10:00:30Z'));
    expect(await runsOf('minutely')).toHaveLength(3); // paused: no fire at 10:00 the next day
    const resumed = await a
      .http()
      .post('/schedules/minutely:every-minute/resume')
      .set('Authorization', operator.auth);
    expect(resumed.body).toMatchObject({ paused: false });
    const audit = (await get('/audit?subjectId=minutely:every-minute&limit=10')).body
      .items as Array<{ action: string; outcome: string; actor: string }>;
    expect(audit.map((e) => [e.action, e.actor])).toEqual(
      expect.arrayContaining([
        ['schedule.pause', operator.username],
        ['schedule.resume', operator.username],
        ['access.denied', viewer.username],
      ]),
    );
  });

  it('real timers: a third process ticking every 200 ms and one more kicked alongside fire each second once', async () => {
    writeFileSync(
      join(dir, 'ticking.yaml'),
      `name: ticking
description: Fires every second
kind: remediation
steps:
  - { name: hi, on: local, run: echo tick }
schedules:
  - { name: each-second, cron: '* * * * * *' }
`,
    );
    const synced = await a.http().post('/runbooks/sync').set('Authorization', a.adminAuth);
    expect(synced.status, JSON.stringify(synced.body)).toBe(200);
    // c ticks on its own timer (SCHEDULER_TICK=200ms, the bootstrap path); a is kicked as often.
    c = await startTestApp(
      {
        RUNBOOKS_DIR: dir,
        SCHEDULER_TICK: '200ms',
        SECRET_KEY: a.config.secretKey,
        REDIS_URL: redis.url,
      },
      a.db,
    );
    const sa = a.app.get(Scheduler);
    sa.now = () => new Date();
    const kicker = setInterval(() => sa.kick(), 200);
    try {
      const deadline = Date.now() + 60_000;
      let started: Awaited<ReturnType<typeof history>> = [];
      while (started.length < 2) {
        if (Date.now() > deadline) throw new Error('fewer than 2 fires in 60 s');
        await new Promise((r) => setTimeout(r, 200));
        started = (await history('ticking:each-second')).filter((f) => f.status === 'started');
      }
      const paused = await a
        .http()
        .post('/schedules/ticking:each-second/pause')
        .set('Authorization', a.adminAuth);
      expect(paused.status).toBe(200);
    } finally {
      clearInterval(kicker);
    }
    // Both stop firing (waiting for a tick in flight); c stays up until the end, since the
    // last app's passport strategies verify every app's tokens in this test process.
    await Promise.all([sa.onModuleDestroy(), c.app.get(Scheduler).onModuleDestroy()]);
    const fires = await history('ticking:each-second');
    const runs = await runsOf('ticking');
    // One execution per started fire time, never two; every fire time once.
    const startedFires = fires.filter((f) => f.status === 'started');
    expect(new Set(fires.map((f) => f.fireTime)).size).toBe(fires.length);
    expect(runs.map((r) => r.id).sort()).toEqual(startedFires.map((f) => f.executionId).sort());
    expect(runs.length).toBeGreaterThanOrEqual(2);
  });

  it('a bad cron, zone or options: nothing is saved, the error names file, line and field', async () => {
    const yaml = `name: bad-schedule
description: Bad schedules
kind: remediation
options:
  - { name: n, type: integer, max: 5 }
steps:
  - { name: hi, on: local, run: echo hi }
schedules:
  - name: one
    cron: '61 * * * *'
  - name: two
    cron: '0 3 * * *'
    timezone: Mars/Olympus
  - name: three
    cron: '@hourly'
    options: { n: 9, m: 1 }
`;
    const res = await a
      .http()
      .post('/runbooks')
      .set('Authorization', a.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(yaml);
    expect(res.status).toBe(400);
    const problems = (
      res.body.details as Array<{ path: string; line: number; message: string }>
    ).map((p) => [p.path, p.line]);
    expect(problems).toEqual([
      ['schedules[0].cron', 10],
      ['schedules[1].timezone', 13],
      ['schedules[2].options.n', 16],
      ['schedules[2].options.m', 16],
    ]);
    expect(res.body.message).toMatch(/minute: 61/);
    expect(res.body.message).toMatch(/unknown time zone "Mars\/Olympus"/);
    expect((await get('/runbooks/bad-schedule')).status).toBe(404);
  });
});

describe('schedules: parsing and daylight saving (croner, pinned)', () => {
  it('5 or 6 fields or a nickname; anything else names the field', () => {
    const base = `name: x-y
description: d
kind: diagnostic
steps:
  - { name: s, on: local, run: echo hi }
schedules:
`;
    const ok = parseRunbook(
      'x.yaml',
      `${base}  - { name: a, cron: '*/5 * * * *' }\n  - { name: b, cron: '0 0 * * * *' }\n  - { name: c, cron: '@daily', timezone: America/New_York }\n`,
    );
    expect(ok.problems).toEqual([]);
    const bad = parseRunbook(
      'x.yaml',
      `${base}  - { name: a, cron: '* * * *' }\n  - { name: a, cron: '@sometimes' }\n  - { name: c, cron: '@daily', maxCatchUp: 3 }\n`,
    );
    expect(bad.problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['schedules[0].cron', 7, expect.stringMatching(/expected 5 cron fields.*got 4/)],
      ['schedules[1].name', 8, 'duplicate schedule name "a"'],
      ['schedules[1].cron', 8, expect.stringMatching(/unknown cron nickname "@sometimes"/)],
      ['schedules[2].maxCatchUp', 9, 'only with missed: run-all'],
    ]);
  });

  it('after a long outage of a frequent schedule the newest fire times are found, oldest first', () => {
    const after = new Date('2026-06-01T00:00:00Z');
    const until = new Date('2026-06-01T03:00:00Z');
    expect(lastFiresBetween('* * * * * *', undefined, after, until, 3)).toEqual([
      new Date('2026-06-01T02:59:58Z'),
      new Date('2026-06-01T02:59:59Z'),
      until,
    ]);
    expect(lastFiresBetween('0 * * * *', undefined, after, until, 10)).toEqual([
      new Date('2026-06-01T01:00:00Z'),
      new Date('2026-06-01T02:00:00Z'),
      until,
    ]);
  });

  it('Europe/Berlin: a skipped time fires once after the gap, a repeated one once; interval jobs keep the real hours', () => {
    const utc = (d: Date[]) => d.map((t) => t.toISOString());
    // 2026-03-29 02:00 CET → 03:00 CEST: 02:30 does not exist; it fires at 03:00 CEST (01:00Z).
    expect(
      utc(
        firesBetween(
          '30 2 * * *',
          'Europe/Berlin',
          new Date('2026-03-28T00:00:00Z'),
          new Date('2026-03-30T23:00:00Z'),
          10,
        ),
      ),
    ).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice; it fires once, the first time.
    expect(
      utc(
        firesBetween(
          '30 2 * * *',
          'Europe/Berlin',
          new Date('2026-10-24T12:00:00Z'),
          new Date('2026-10-26T12:00:00Z'),
          10,
        ),
      ),
    ).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // An interval job runs on both passes through the repeated hour (every real half hour).
    expect(
      utc(
        firesBetween(
          '0,30 * * * *',
          'Europe/Berlin',
          new Date('2026-10-24T23:59:00Z'),
          new Date('2026-10-25T01:31:00Z'),
          10,
        ),
      ),
    ).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ]);
  });
});
