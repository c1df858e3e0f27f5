import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** A parent that maps its option and a capture into a child run on its own nodes. */
const CALLER = `name: call-child
description: Calls child-echo on its own nodes with an option and a capture
kind: diagnostic
options:
  - { name: msg, type: string, default: hello }
  - { name: fail, type: boolean, default: false }
  - { name: child, type: enum, values: [child-echo, child-admin, child-approve, child-slow], default: child-echo }
targets:
  nodes: { tags: [child] }
steps:
  - name: ver
    on: local
    run: echo v=42
    capture:
      v: { regex: 'v=(\\S+)' }
  - name: call
    runbook:
      name: child-echo
      options: { msg: '{{ options.msg }}', n: '{{ steps.ver.captures.v }}', fail: '{{ options.fail }}' }
`;

const CHILD = `name: child-echo
description: Echoes what its caller gave it
kind: diagnostic
options:
  - { name: msg, type: string, required: true }
  - { name: n, type: integer, required: true }
  - { name: fail, type: boolean, default: false }
steps:
  - name: echo
    run: echo child {{ options.msg }} {{ options.n }} on {{ node.name }}
  - name: maybe-fail
    when: options.fail
    run: exit 4
`;

/** The caller's step pointed at another child. */
const callerOf = (name: string, child: string, extra = '') =>
  CALLER.replace('name: call-child', `name: ${name}`)
    .replace(/ {6}options: \{ msg: .*\n/, extra)
    .replace('      name: child-echo', `      name: ${child}`);

const CHILD_ADMIN = `name: child-admin
description: Only admins may run it
kind: diagnostic
access: { run: [admin] }
steps:
  - name: echo
    run: echo admin only
`;

const CHILD_APPROVE = `name: child-approve
description: Needs approval on every node
kind: diagnostic
approval: { approvers: [admin], reason: risky }
steps:
  - name: echo
    run: echo approved
`;

const CHILD_SLOW = `name: child-slow
description: Runs until canceled
kind: diagnostic
steps:
  - name: park
    run: sleep 41.7
`;

/** The gate is a runbook: child-echo on the batch just done, failing when `gate_fail`. */
const ROLL_GATE_RUNBOOK = `name: roll-gate-rb
description: Rolling one node at a time behind a runbook gate
kind: diagnostic
options:
  - { name: gate_fail, type: boolean, default: false }
targets:
  nodes: { tags: [roll] }
  strategy: rolling
  between:
    name: gate
    runbook:
      name: child-echo
      options: { msg: gate, n: 1, fail: '{{ options.gate_fail }}' }
steps:
  - name: work
    run: echo work {{ node.name }}
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
  const run = async (
    runbook: string,
    options: Record<string, unknown> = {},
    auth = t.adminAuth,
  ) => {
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', auth)
      .send({ runbook, options });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const done = await waitFinished(t, res.body.id as string, auth);
    return { id: res.body.id as string, ...done, results: done.results as unknown as Row[] };
  };
  const logLines = async (id: string) =>
    (
      (await t.http().get(`/executions/${id}/logs`).set('Authorization', t.adminAuth)).body
        .items as Array<{ line: string; stream: string }>
    ).map((l) => l.line);
  const get = async (id: string, auth = t.adminAuth) =>
    (await t.http().get(`/executions/${id}`).set('Authorization', auth)).body as {
      status: string;
      error: string | null;
      approvals: Array<{ reason: string }>;
      actor: string;
      targets: string[];
      parentExecutionId: string | null;
      parentStep: string | null;
      results: Array<Row & { error: string | null }>;
      children: Array<{ id: string; runbook: string; step: string; status: string; logs: string }>;
    };
  /** Cancels the parent run `id`; both it and its child `childId` end canceled. */
  const cancelParentAndChild = async (id: string, childId: string) => {
    const cancel = await t
      .http()
      .post(`/executions/${id}/cancel`)
      .set('Authorization', t.adminAuth);
    expect(cancel.status).toBe(201);
    expect((await waitFinished(t, id)).status).toBe('canceled');
    expect((await waitFinished(t, childId)).status).toBe('canceled');
  };
  const nodesOf = (rows: Row[], step: string) =>
    rows
      .filter((r) => r.step === step)
      .map((r) => `${r.node}:${r.status}`)
      .sort();

  beforeAll(async () => {
    sshd = await startSshd();
    t = await startTestApp({ HEARTBEAT_TIMEOUT: '5' });
    await registerFleet(t, sshd, NODES, { tags: ['roll'] });
    await registerFleet(t, sshd, ['c-1', 'c-2'], { tags: ['child'] });
    for (const yaml of [
      ROLL_MAX,
      ROLL_GATE,
      CHILD,
      CALLER,
      CHILD_ADMIN,
      CHILD_APPROVE,
      CHILD_SLOW,
      callerOf('call-admin', 'child-admin'),
      callerOf('call-approve', 'child-approve'),
      callerOf('call-slow', 'child-slow'),
      ROLL_GATE_RUNBOOK,
    ]) {
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

  describe('runbook steps', () => {
    let operator: { username: string; auth: string };
    beforeAll(async () => {
      operator = await t.userWithRoles(['operator']);
    });

    it("runs the child as an execution of its own, linked both ways, as the caller's user, on the caller's nodes", async () => {
      const done = await run('call-child', { msg: 'hi there' }, operator.auth);
      expect(done.status).toBe('succeeded');
      const parent = await get(done.id, operator.auth);
      expect(parent.children).toHaveLength(1);
      const [link] = parent.children;
      expect(link).toMatchObject({ runbook: 'child-echo', step: 'call', status: 'succeeded' });
      expect(link.logs).toBe(`/executions/${link.id}/logs`);
      const child = await get(link.id, operator.auth);
      expect(child).toMatchObject({
        status: 'succeeded',
        actor: operator.username,
        targets: ['c-1', 'c-2'],
        parentExecutionId: done.id,
        parentStep: 'call',
      });
      expect(await logLines(link.id)).toEqual(
        expect.arrayContaining(['child hi there 42 on c-1', 'child hi there 42 on c-2']),
      );
      expect(await logLines(done.id)).toContain(
        `child execution ${link.id}: child-echo v1 on 2 node(s); its logs: /executions/${link.id}/logs`,
      );
    });

    it('the step fails when the child fails, naming the child', async () => {
      const done = await run('call-child', { fail: true });
      expect(done.status).toBe('failed');
      const parent = await get(done.id);
      const [link] = parent.children;
      expect(link).toMatchObject({ runbook: 'child-echo', status: 'failed' });
      const step = parent.results.find((r) => r.step === 'call')!;
      expect(step.status).toBe('failed');
      expect(step.error).toBe(
        `child execution ${link.id} (child-echo) failed: one or more steps failed`,
      );
    });

    it("the child goes through the start path: the caller's user must be allowed to run it", async () => {
      const done = await run('call-admin', {}, operator.auth);
      expect(done.status).toBe('failed');
      const parent = await get(done.id, operator.auth);
      expect(parent.children).toEqual([]);
      expect(parent.results.find((r) => r.step === 'call')!.error).toMatch(
        /^runbook child-admin: you may not run child-admin: it runs for role:admin/,
      );
      // The same run as an admin passes.
      expect((await run('call-admin')).status).toBe('succeeded');
    });

    it("a child whose approval applies is held on the caller's nodes and its parent waits for it (canceled here: both end)", async () => {
      const res = await t
        .http()
        .post('/executions')
        .set('Authorization', t.adminAuth)
        .send({ runbook: 'call-approve' });
      expect(res.status).toBe(201);
      const id = res.body.id as string;
      const deadline = Date.now() + 30_000;
      let parent = await get(id);
      while (parent.status !== 'awaiting_child' || parent.children.length === 0) {
        if (Date.now() > deadline || ['failed', 'succeeded'].includes(parent.status))
          throw new Error(`parent is ${parent.status}: ${parent.error}`);
        await new Promise((r) => setTimeout(r, 100));
        parent = await get(id);
      }
      const childId = parent.children[0].id;
      const child = await get(childId);
      expect(child).toMatchObject({ status: 'awaiting_approval', targets: ['c-1', 'c-2'] });
      expect(child.approvals[0].reason).toBe('risky');
      await cancelParentAndChild(id, childId);
    });

    it('canceling the parent cancels the child', async () => {
      const res = await t
        .http()
        .post('/executions')
        .set('Authorization', t.adminAuth)
        .send({ runbook: 'call-slow' });
      expect(res.status).toBe(201);
      const id = res.body.id as string;
      const deadline = Date.now() + 30_000;
      let childId: string | undefined;
      while (!childId) {
        const [link] = (await get(id)).children;
        if (
          link?.status === 'running' &&
          (await logLines(link.id)).some((l) => l.startsWith('$ sleep'))
        )
          childId = link.id;
        else if (Date.now() > deadline) throw new Error('the child never started its command');
        else await new Promise((r) => setTimeout(r, 100));
      }
      await cancelParentAndChild(id, childId);
    });

    it('a runbook as a between gate runs on the batch just done; its failure stops the rollout', async () => {
      const ok = await run('roll-gate-rb');
      expect(ok.status).toBe('succeeded');
      const gates = (await get(ok.id)).children;
      expect(gates.map((c) => c.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect((await get(gates[1].id)).targets).toEqual(['r-2']);

      const bad = await run('roll-gate-rb', { gate_fail: true });
      expect(bad.status).toBe('failed');
      expect(nodesOf(bad.results, 'work')).toEqual(['r-1:succeeded']);
      const [gate] = (await get(bad.id)).children;
      expect(gate).toMatchObject({ runbook: 'child-echo', step: 'gate', status: 'failed' });
      expect((await get(gate.id)).targets).toEqual(['r-1']);
    });

    it('refuses a save that closes a cycle or nests too deep, naming the chain', async () => {
      const leaf = (name: string, calls?: string) =>
        `name: ${name}\ndescription: A link of a chain\nkind: diagnostic\nsteps:\n` +
        (calls
          ? `  - name: next\n    runbook: { name: ${calls} }\n`
          : `  - name: echo\n    on: local\n    run: echo leaf\n`);
      expect((await save(leaf('cyc-b'))).status).toBe(201);
      expect((await save(leaf('cyc-a', 'cyc-b'))).status).toBe(201);
      const cyc = await save(leaf('cyc-b', 'cyc-a'));
      expect(cyc.status).toBe(400);
      expect(cyc.body.message).toBe(
        '(request):6:22 steps[0].runbook.name: runbooks call each other in a cycle: cyc-b → cyc-a → cyc-b',
      );
      // deep-7 … deep-2 is five levels: allowed; deep-1 on top of it is six.
      for (let i = 7; i >= 2; i--) {
        const r = await save(leaf(`deep-${i}`, i < 7 ? `deep-${i + 1}` : undefined));
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
      const deep = await save(leaf('deep-1', 'deep-2'));
      expect(deep.status).toBe(400);
      expect(deep.body.message).toBe(
        '(request):6:22 steps[0].runbook.name: runbook steps nest deeper than 5 levels: deep-1 → deep-2 → deep-3 → deep-4 → deep-5 → deep-6 → deep-7',
      );
      // Nothing was stored.
      expect(
        (await t.http().get('/runbooks/deep-1').set('Authorization', t.adminAuth)).status,
      ).toBe(404);
      // The same from a file: the sync reports it and stores nothing.
      mkdirSync(t.config.runbooksDir, { recursive: true });
      writeFileSync(join(t.config.runbooksDir, 'deep-1.yaml'), leaf('deep-1', 'deep-2'));
      const sync = await t.http().post('/runbooks/sync').set('Authorization', t.adminAuth);
      expect(
        (sync.body.problems as Array<{ message: string }>).map((p) => p.message),
        JSON.stringify(sync.body),
      ).toEqual([
        'runbook steps nest deeper than 5 levels: deep-1 → deep-2 → deep-3 → deep-4 → deep-5 → deep-6 → deep-7',
      ]);
      rmSync(join(t.config.runbooksDir, 'deep-1.yaml'));
      expect(
        (await t.http().get('/runbooks/deep-1').set('Authorization', t.adminAuth)).status,
      ).toBe(404);
    });

    it('a cycle through a pinned older version is stopped at run time', async () => {
      const rb = (name: string, body: string) =>
        `name: ${name}\ndescription: Backstop\nkind: diagnostic\nsteps:\n${body}`;
      const local = '  - name: echo\n    on: local\n    run: echo here\n';
      expect((await save(rb('bs-y', local))).status).toBe(201);
      expect((await save(rb('bs-x', '  - name: next\n    runbook: { name: bs-y }\n'))).status).toBe(
        201,
      );
      expect((await save(rb('bs-x', local))).status).toBe(201);
      // bs-x v1 calls bs-y; its current version does not, so this save is accepted.
      const y = await save(rb('bs-y', '  - name: next\n    runbook: { name: bs-x, version: 1 }\n'));
      expect(y.status, JSON.stringify(y.body)).toBe(201);
      const done = await run('bs-y');
      expect(done.status).toBe('failed');
      const parent = await get(done.id);
      const [x] = parent.children;
      expect(x, JSON.stringify(parent.results)).toBeDefined();
      expect((await get(x.id)).results.find((r) => r.step === 'next')!.error).toBe(
        'runbook bs-y: runbooks call each other in a cycle: bs-y → bs-x → bs-y',
      );
    });
  });
});
