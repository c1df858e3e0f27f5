import { registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

/**
 * Rolling with health gates (percentage batches, maxFailures, a `between` gate) and `runbook`
 * steps (child executions), on one app and one real sshd for the file.
 */

/** Fails on the nodes named in `fail`; `after` shows which nodes went on past `work`. */
const ROLL_MAX = `name: roll-max
description: Rolling in batches of 30% (two of four), tolerating one failed node in four
kind: diagnostic
options:
  - { name: fail, type: list, default: [] }
targets:
  nodes: { tags: [roll] }
  strategy: rolling
  batchSize: '30%'
  maxFailures: '25%'
steps:
  - name: work
    run: for f in {{ options.fail }}; do [ "$f" != {{ node.name }} ] || exit 3; done
  - name: after
    run: echo after {{ node.name }}
`;

/** One node at a time; the gate after each batch exits with `gate` (0 passes). */
const ROLL_GATE = `name: roll-gate
description: Rolling one node at a time behind a health gate
kind: diagnostic
options:
  - { name: gate, type: integer, default: 0 }
targets:
  nodes: { tags: [roll] }
  strategy: rolling
  batchSize: 1
  between:
    name: healthy
    check:
      run: exit {{ options.gate }}
      expect: { exitCode: 0 }
steps:
  - name: work
    run: echo work {{ node.name }}
onError:
  - name: collect
    on: local
    run: echo collecting
`;

const NODES = ['r-1', 'r-2', 'r-3', 'r-4'];

interface Row {
  step: string;
  node: string | null;
  status: string;
}

describe('rolling health gates and runbook steps (real app, Postgres, sshd)', () => {
  let t: TestApp;
  let sshd: SshServer;

  const save = async (yaml: string) =>
    t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(yaml);
  const run = async (runbook: string, options: Record<string, unknown> = {}) => {
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook, options });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const done = await waitFinished(t, res.body.id as string);
    return { id: res.body.id as string, ...done, results: done.results as unknown as Row[] };
  };
  const logLines = async (id: string) =>
    (
      (await t.http().get(`/executions/${id}/logs`).set('Authorization', t.adminAuth)).body
        .items as Array<{ line: string; stream: string }>
    ).map((l) => l.line);
  const nodesOf = (rows: Row[], step: string) =>
    rows
      .filter((r) => r.step === step)
      .map((r) => `${r.node}:${r.status}`)
      .sort();

  beforeAll(async () => {
    sshd = await startSshd();
    t = await startTestApp({ HEARTBEAT_TIMEOUT: '5' });
    await registerFleet(t, sshd, NODES, { tags: ['roll'] });
    for (const yaml of [ROLL_MAX, ROLL_GATE]) {
      const res = await save(yaml);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  describe('rolling', () => {
    it('batchSize as a percentage of the matched nodes, rounded up', async () => {
      const done = await run('roll-max');
      expect(done.status).toBe('succeeded');
      const lines = await logLines(done.id);
      // 30% of 4 is 1.2: batches of 2.
      expect(lines).toContain('batch 1/2: r-1, r-2');
      expect(lines).toContain('batch 2/2: r-3, r-4');
    });

    it('failures within maxFailures let later batches go on; the failed node stops there', async () => {
      const done = await run('roll-max', { fail: ['r-1'] });
      expect(done.status).toBe('failed');
      expect(nodesOf(done.results, 'work')).toEqual([
        'r-1:failed',
        'r-2:succeeded',
        'r-3:succeeded',
        'r-4:succeeded',
      ]);
      expect(nodesOf(done.results, 'after')).toEqual([
        'r-2:succeeded',
        'r-3:succeeded',
        'r-4:succeeded',
      ]);
    });

    it('once more nodes failed than maxFailures allows, the remaining batches never start', async () => {
      const done = await run('roll-max', { fail: ['r-1', 'r-2'] });
      expect(done.status).toBe('failed');
      // No result row at all for the nodes of the second batch: they never ran.
      expect(done.results.filter((r) => r.node === 'r-3' || r.node === 'r-4')).toEqual([]);
      expect(nodesOf(done.results, 'work')).toEqual(['r-1:failed', 'r-2:failed']);
      expect(await logLines(done.id)).toContain(
        'stopping the rollout: 2 node(s) failed, more than maxFailures 25% allows (1); not started: r-3, r-4',
      );
    });

    it('a between gate runs after each batch but the last', async () => {
      const done = await run('roll-gate', { gate: 0 });
      expect(done.status).toBe('succeeded');
      expect(nodesOf(done.results, 'work')).toEqual(NODES.map((n) => `${n}:succeeded`));
      expect(nodesOf(done.results, 'healthy')).toEqual([
        'r-1:succeeded',
        'r-2:succeeded',
        'r-3:succeeded',
      ]);
    });

    it('a failing between gate stops the rollout, fails the run and runs onError', async () => {
      const done = await run('roll-gate', { gate: 1 });
      expect(done.status).toBe('failed');
      expect(nodesOf(done.results, 'work')).toEqual(['r-1:succeeded']);
      expect(nodesOf(done.results, 'healthy')).toEqual(['r-1:failed']);
      expect(nodesOf(done.results, 'collect')).toEqual(['null:succeeded']);
      expect(await logLines(done.id)).toContain(
        'stopping the rollout: gate healthy failed after batch 1/4; not started: r-2, r-3, r-4',
      );
    });

    it('refuses a between gate of another kind when saved, naming its line', async () => {
      const res = await save(
        ROLL_GATE.replace('name: roll-gate', 'name: roll-bad').replace(
          /between:\n {4}name: healthy\n {4}check:\n {6}run: exit \{\{ options.gate \}\}\n {6}expect: \{ exitCode: 0 \}/,
          'between:\n    name: healthy\n    run: echo not a gate',
        ),
      );
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(
        /^\(request\):11:5 targets\.between: between is a gate: a check or runbook step, not a run step$/,
      );
    });
  });
});
