import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { RetentionService } from '../src/executions/retention.js';
import { waitFinished } from './support/fleet.js';
import { startTestApp, type TestApp } from './support/app.js';

const RUNBOOKS: Record<string, string> = {
  lines: `name: lines
description: Prints some lines on the Firebreak host
kind: diagnostic
options:
  - { name: n, type: integer, default: 3 }
steps:
  - name: count
    on: local
    run: seq 1 {{ options.n }}
  - name: done
    on: local
    run: echo done
`,
  park: `name: park
description: Runs until canceled
kind: diagnostic
steps:
  - name: wait
    on: local
    run: sleep 45.6
    timeout: 2m
`,
};

describe('retention (real app and Postgres, the scheduled job)', () => {
  let t: TestApp;
  let dir: string;
  let ds: DataSource;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-retention-runbooks-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({
      RUNBOOKS_DIR: dir,
      RETENTION_EXECUTIONS: '30d',
      RETENTION_INTERVAL: '1s',
      // Small batches (and 100 log lines per DELETE), so a round takes several of each.
      RETENTION_BATCH: '2',
    });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: object) =>
    t.http().post(path).set('Authorization', t.adminAuth).send(body);
  const run = async (body: object, path = '/executions') => {
    const res = await post(path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const counts = async (ids: string[]) =>
    (await ds.query(
      `SELECT e.id,
              (SELECT count(*) FROM execution_logs l WHERE l.execution_id = e.id)::int AS logs,
              (SELECT count(*) FROM execution_results r WHERE r.execution_id = e.id)::int AS results
         FROM unnest($1::uuid[]) AS e(id)`,
      [ids],
    )) as Array<{ id: string; logs: number; results: number }>;
  const until = async (what: string, fn: () => Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await fn())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('prunes old finished runs with their logs and results, keeps recent and running ones, audits each, keeps the timeline', async () => {
    const inc = await post('/incidents', { title: 'Disk full', severity: 'SEV3' });
    expect(inc.status).toBe(201);
    const ref = inc.body.ref as string;
    const forIncident = await run(
      { runbook: 'lines', options: { n: 250 } },
      `/incidents/${ref}/executions`,
    );
    const old = [forIncident];
    for (let i = 0; i < 3; i++) old.push(await run({ runbook: 'lines' }));
    const recent = await run({ runbook: 'lines' });
    const startedLongAgo = await run({ runbook: 'lines' }); // …but finished just now: kept
    for (const id of [...old, recent, startedLongAgo])
      expect((await waitFinished(t, id)).status).toBe('succeeded');
    const parked = await run({ runbook: 'park' });
    await until('park running', async () => {
      const e = await t.http().get(`/executions/${parked}`).set('Authorization', t.adminAuth);
      return e.body.status === 'running';
    });
    const timelineOf = async () =>
      (
        await t
          .http()
          .get(`/incidents/${ref}/timeline?limit=1000`)
          .set('Authorization', t.adminAuth)
      ).body.items as Array<{ kind: string; subjectId: string | null; details: { link?: string } }>;
    await until('the timeline has the run', async () =>
      (await timelineOf()).some((e) => e.kind === 'execution.finished'),
    );
    const before = new Map((await counts(old)).map((c) => [c.id, c]));
    expect(before.get(forIncident)!.logs).toBeGreaterThan(250);
    for (const c of before.values()) expect(c.results).toBe(2);

    // One statement makes them old: finished 99 days ago (two batches of two), started 100
    // days ago for the kept ones.
    await ds.query(
      `UPDATE executions SET created_at = now() - interval '100 days',
              started_at = now() - interval '100 days',
              finished_at = CASE WHEN id = ANY($1) THEN now() - interval '99 days' ELSE finished_at END
        WHERE id = ANY($2)`,
      [old, [...old, startedLongAgo, parked]],
    );
    await until('the old runs pruned', async () => {
      const [{ n }] = (await ds.query(
        'SELECT count(*)::int AS n FROM executions WHERE id = ANY($1)',
        [old],
      )) as [{ n: number }];
      return n === 0;
    });

    for (const c of await counts(old)) expect(c).toMatchObject({ logs: 0, results: 0 });
    for (const c of await counts([recent, startedLongAgo])) {
      expect(c.logs).toBeGreaterThan(0);
      expect(c.results).toBe(2);
    }
    const status = async (id: string) =>
      (await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth)).status;
    expect(await status(old[1])).toBe(404);
    expect(await status(recent)).toBe(200);
    expect(await status(startedLongAgo)).toBe(200);
    const parkedNow = await t.http().get(`/executions/${parked}`).set('Authorization', t.adminAuth);
    expect(parkedNow.body.status).toBe('running');

    // One audit entry per pruned run, none for the others, with what went.
    const pruned = (await ds.query(
      "SELECT subject_id, actor_name, details FROM audit_log WHERE action = 'execution.prune'",
    )) as Array<{ subject_id: string; actor_name: string; details: Record<string, unknown> }>;
    expect(pruned.map((p) => p.subject_id).sort()).toEqual([...old].sort());
    for (const p of pruned) {
      expect(p.actor_name).toBe('system');
      expect(p.details).toMatchObject({
        runbook: 'lines',
        status: 'succeeded',
        logLines: before.get(p.subject_id)!.logs,
        results: 2,
      });
    }
    expect(pruned.find((p) => p.subject_id === forIncident)!.details.incidentId).toBe(ref);
    // The audit trail of the runs is kept, and the chain still verifies.
    const trail = (await ds.query(
      'SELECT action FROM audit_log WHERE subject_id = $1 ORDER BY id',
      [forIncident],
    )) as Array<{ action: string }>;
    expect(trail.map((a) => a.action)).toEqual([
      'execution.start',
      'execution.finish',
      'execution.prune',
    ]);
    const verify = await t.http().get('/audit/verify').set('Authorization', t.adminAuth);
    expect(verify.body).toMatchObject({ ok: true });
    // The incident's timeline still tells the story (and links the id).
    const timeline = await timelineOf();
    for (const kind of ['execution.started', 'execution.finished'])
      expect(timeline.find((e) => e.kind === kind)?.subjectId).toBe(forIncident);
    const postmortem = await t
      .http()
      .get(`/incidents/${ref}/postmortem`)
      .set('Authorization', t.adminAuth);
    expect(postmortem.status).toBe(200);
    expect(postmortem.text).toContain(forIncident);

    await post(`/executions/${parked}/cancel`, {});
    await waitFinished(t, parked);
  });

  it('one process prunes at a time: a round skips while another holds the lock', async () => {
    const retention = t.app.get(RetentionService);
    const other = ds.createQueryRunner();
    await other.connect();
    try {
      // What a pruning process holds (see retention.ts), taken here by "another process".
      await other.manager.query('SELECT pg_advisory_lock($1, $2)', [0x46425254, 1]);
      expect(await retention.prune()).toBeNull();
      await other.manager.query('SELECT pg_advisory_unlock($1, $2)', [0x46425254, 1]);
      // The scheduled round may be the one that gets it; either way it is not held any more.
      await until('a round that gets the lock', async () => (await retention.prune()) !== null);
    } finally {
      await other.release();
    }
  });
});
