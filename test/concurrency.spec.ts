import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ConcurrencyDispatcher } from '../src/executions/concurrency.js';
import { ExecutionRepository } from '../src/executions/execution.repository.js';
import { registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

const GATE_OPTION = `  - { name: gate, type: string, required: true, pattern: '^/[A-Za-z0-9/._-]+$' }`;
const WAIT_STEP = `  - name: wait
    run: while [ ! -e {{ options.gate }} ]; do sleep 0.05; done
    timeout: 1m`;

const RUNBOOKS: Record<string, string> = {
  'one-at-a-time': `name: one-at-a-time
description: Waits for its gate, then shows a digest of its secure token
kind: diagnostic
concurrency: { policy: queue }
options:
${GATE_OPTION}
  - { name: token, type: secure, required: true }
targets:
  nodes: { names: [web-1] }
steps:
${WAIT_STEP}
  - name: token
    run: printf '%s' {{ options.token }} | sha256sum
`,
  exclusive: `name: exclusive
description: Refuses a second run while one runs
kind: diagnostic
concurrency: { policy: reject, scope: runbook }
options:
${GATE_OPTION}
targets:
  nodes: { names: [web-1] }
steps:
${WAIT_STEP}
`,
  'per-node': `name: per-node
description: One run per node at a time
kind: diagnostic
concurrency: { policy: queue, scope: node }
options:
${GATE_OPTION}
targets:
  nodes: { tags: [linux] }
steps:
${WAIT_STEP}
`,
};

const pick = <T extends object, K extends keyof T>(o: T, keys: K[]) =>
  Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;

interface Row {
  id: string;
  status: string;
  started_at: Date | null;
  finished_at: Date | null;
}

describe('concurrency policy (real app, Postgres, OpenSSH sshd)', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;
  let gates: string;
  let ds: DataSource;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-concurrency-runbooks-'));
    gates = mkdtempSync(join(tmpdir(), 'firebreak-gates-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    // HEARTBEAT_TIMEOUT also sets the backstop sweep (every half of it): far off here, so the
    // runs below are woken by the end of the one they wait for; the sweep has its own test.
    t = await startTestApp({ RUNBOOKS_DIR: dir, HEARTBEAT_TIMEOUT: '600' });
    ds = t.app.get(DataSource);
    await registerFleet(t, sshd, ['web-1', 'web-2', 'web-3']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(gates, { recursive: true, force: true });
  });

  let gateN = 0;
  /** A gate file path; `open` creates it, so a run waiting on it goes on. */
  const gate = (opened = false) => {
    const path = join(gates, `g${++gateN}`);
    if (opened) writeFileSync(path, '');
    return { path, open: () => writeFileSync(path, '') };
  };
  const start = (body: object) =>
    t.http().post('/executions').set('Authorization', t.adminAuth).send(body);
  const get = async (id: string) =>
    (await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth)).body as {
      status: string;
      waitingFor: string[];
      concurrency: unknown;
    };
  const logsOf = async (id: string) =>
    (await t.http().get(`/executions/${id}/logs`).set('Authorization', t.adminAuth)).body
      .items as Array<{ seq: number; step: string | null; stream: string; line: string }>;
  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const running = (id: string) =>
    until(`${id} running`, async () => (await get(id)).status === 'running');
  const rows = async (ids: string[]) =>
    (await ds.query(
      'SELECT id, status, started_at, finished_at FROM executions WHERE id = ANY($1)',
      [ids],
    )) as Row[];

  it('queue: a second run waits (saying for what), keeps its secure option, and starts only after the first ended', async () => {
    const g1 = gate();
    const first = await start({
      runbook: 'one-at-a-time',
      options: { gate: g1.path, token: 'first-Secret-1' },
    });
    expect(first.status).toBe(201);
    await running(first.body.id as string);

    const token = 'second-Secret-2 with spaces';
    const second = await start({
      runbook: 'one-at-a-time',
      options: { gate: gate(true).path, token },
    });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({
      status: 'queued',
      waitingFor: [first.body.id],
      concurrency: { policy: 'queue', scope: 'runbook' },
    });
    const id = second.body.id as string;
    // Said in its log, and still queued (its own gate is open: only the policy holds it).
    const waiting = await logsOf(id);
    expect(waiting).toEqual([
      expect.objectContaining({
        seq: 1,
        stream: 'system',
        line: expect.stringContaining(`waiting for ${first.body.id as string} (running)`),
      }),
    ]);
    expect((await get(id)).status).toBe('queued');

    g1.open();
    expect((await waitFinished(t, first.body.id as string)).status).toBe('succeeded');
    const done = await waitFinished(t, id);
    expect(done.status).toBe('succeeded');
    expect((await get(id)).waitingFor).toEqual([]);

    const [a, b] = [first.body.id as string, id];
    const byId = new Map((await rows([a, b])).map((r) => [r.id, r]));
    expect(byId.get(b)!.started_at!.getTime()).toBeGreaterThanOrEqual(
      byId.get(a)!.finished_at!.getTime(),
    );
    // The sealed secure value survived the wait: the digest of exactly that value, masked text.
    const lines = await logsOf(id);
    const digest = createHash('sha256').update(token).digest('hex');
    expect(lines.find((l) => l.step === 'token' && l.stream === 'stdout')?.line).toBe(
      `${digest}  -`,
    );
    expect(JSON.stringify(lines)).not.toContain(token);
    // Its log goes on after the waiting line, in order.
    expect(lines[0].line).toContain('waiting for');
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  });

  it('queue is race-free: runs started at once never overlap, each waits for the one before', async () => {
    const open = gate(true).path;
    const started = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        start({ runbook: 'one-at-a-time', options: { gate: open, token: `t-${n}` } }),
      ),
    );
    const ids = started.map((r) => {
      expect(r.status).toBe(201);
      return r.body.id as string;
    });
    for (const id of ids) expect((await waitFinished(t, id)).status).toBe('succeeded');
    const runs = (await rows(ids)).sort(
      (x, y) => x.started_at!.getTime() - y.started_at!.getTime(),
    );
    for (let i = 1; i < runs.length; i++)
      expect(runs[i].started_at!.getTime()).toBeGreaterThanOrEqual(
        runs[i - 1].finished_at!.getTime(),
      );
  });

  it('the sweep dispatches a waiting run whose wake-up was lost', async () => {
    const g = gate();
    const first = await start({ runbook: 'per-node', options: { gate: g.path }, nodes: ['web-2'] });
    const a = first.body.id as string;
    await running(a);
    // A second run whose dispatch was lost (created, never enqueued), waiting for the first…
    const repo = t.app.get(ExecutionRepository);
    const e = (await repo.findById(a))!;
    const id = randomUUID();
    const second = await repo.create(
      {
        ...pick(e, ['runbookName', 'runbookVersion', 'versionId', 'targets', 'actorId']),
        ...pick(e, [
          'actorName',
          'trigger',
          'concurrencyPolicy',
          'concurrencyScope',
          'parentExecutionId',
          'parentStep',
        ]),
        id,
        options: { gate: gate(true).path },
        secretOptions: null,
        incidentId: null,
        rerunOf: null,
      },
      {
        ctx: { actorId: e.actorId, actorName: e.actorName },
        record: { action: 'execution.start', subjectType: 'Execution', subjectId: id },
      },
    );
    expect(second.waitingFor).toEqual([a]);
    // …and the first ends behind the service's back: no status notice wakes anyone either.
    await ds.query("UPDATE executions SET status = 'failed', finished_at = now() WHERE id = $1", [
      a,
    ]);
    expect((await get(id)).status).toBe('queued');
    expect(await t.app.get(ConcurrencyDispatcher).sweep()).toBe(1);
    expect((await waitFinished(t, id)).status).toBe('succeeded');
    g.open(); // lets the first one's command end
  });

  it('reject: a start while one runs is a 409 naming it, audited, and nothing is written', async () => {
    const g = gate();
    const first = await start({ runbook: 'exclusive', options: { gate: g.path } });
    expect(first.status).toBe(201);
    await running(first.body.id as string);
    const count = async () =>
      Number(
        (
          (await ds.query(
            "SELECT count(*) AS n FROM executions WHERE runbook_name = 'exclusive'",
          )) as [{ n: string }]
        )[0].n,
      );
    const before = await count();

    const refused = await start({ runbook: 'exclusive', options: { gate: gate(true).path } });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CONFLICT');
    expect(refused.body.message).toContain(first.body.id);
    expect(refused.body.details).toMatchObject({
      runbook: 'exclusive',
      conflicts: [{ execution: first.body.id, status: 'running' }],
    });
    expect(await count()).toBe(before);
    const audit = await t
      .http()
      .get('/audit?action=access.denied&subjectId=exclusive')
      .set('Authorization', t.adminAuth);
    expect(JSON.stringify(audit.body)).toContain(`conflicts with ${first.body.id as string}`);

    g.open();
    await waitFinished(t, first.body.id as string);
    const after = await start({ runbook: 'exclusive', options: { gate: gate(true).path } });
    expect(after.status).toBe(201);
    expect((await waitFinished(t, after.body.id as string)).status).toBe('succeeded');
  });

  it('scope node: another node runs at once, the same node waits; a waiting run can be canceled', async () => {
    const g = gate();
    const onWeb1 = await start({
      runbook: 'per-node',
      options: { gate: g.path },
      nodes: ['web-1'],
    });
    expect(onWeb1.status).toBe(201);
    const a = onWeb1.body.id as string;
    await running(a);

    // web-2 shares nothing with it: it runs and ends while the first still holds web-1.
    const onWeb2 = await start({
      runbook: 'per-node',
      options: { gate: gate(true).path },
      nodes: ['web-2'],
    });
    expect(onWeb2.body.waitingFor).toEqual([]);
    expect((await waitFinished(t, onWeb2.body.id as string)).status).toBe('succeeded');
    expect((await get(a)).status).toBe('running');

    // web-1 and web-3: waits for the first, on web-1.
    const shared = await start({
      runbook: 'per-node',
      options: { gate: gate(true).path },
      nodes: ['web-1', 'web-3'],
    });
    const c = shared.body.id as string;
    expect(shared.body).toMatchObject({ status: 'queued', waitingFor: [a] });
    expect((await logsOf(c))[0].line).toContain(`waiting for ${a} (running on web-1)`);

    // A second one on web-3 waits for the queued one before it (first come, first served);
    // canceled while it waits, it ends at once and never runs.
    const behind = await start({
      runbook: 'per-node',
      options: { gate: gate(true).path },
      nodes: ['web-3'],
    });
    const d = behind.body.id as string;
    expect(behind.body).toMatchObject({ status: 'queued', waitingFor: [c] });
    const cancel = await t.http().post(`/executions/${d}/cancel`).set('Authorization', t.adminAuth);
    expect(cancel.status).toBe(201);
    expect(cancel.body).toMatchObject({ status: 'canceled', waitingFor: [] });

    g.open();
    expect((await waitFinished(t, c)).status).toBe('succeeded');
    const byId = new Map((await rows([a, c, d])).map((r) => [r.id, r]));
    expect(byId.get(c)!.started_at!.getTime()).toBeGreaterThanOrEqual(
      byId.get(a)!.finished_at!.getTime(),
    );
    expect(byId.get(d)).toMatchObject({ status: 'canceled', started_at: null });
    expect((await waitFinished(t, d)).results).toEqual([]);
  });
});
