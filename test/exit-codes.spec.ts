import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';
import { pids } from './support/processes.js';

// Exit statuses through the whole engine (API → queue → worker → SSH → result rows), on the
// lean login where fast commands' statuses arrive at once, and the process-group kill on the
// noisy login where the rc file's output comes before the wrapper's marker.

async function waitForPids(pattern: string, ok: (p: number[]) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await pids(pattern);
    if (ok(found) || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const RUNBOOKS: Record<string, string> = {
  // Node i, run with `shift` s, runs `true`, `false` or `exit 3` by (i + s) % 3.
  'exit-mix': `name: exit-mix
description: true, false or exit 3, by node and shift
kind: diagnostic
options:
  - { name: shift, type: integer, default: 0 }
targets: { strategy: parallel, maxParallel: 100 }
steps:
  - name: exit
    run: |
      k=$(( ({{ node.attributes.i }} + {{ options.shift }}) % 3 ))
      case $k in 0) true ;; 1) false ;; *) exit 3 ;; esac
`,
  'dies-by-signal': `name: dies-by-signal
description: The command's shell kills itself
kind: diagnostic
options:
  - { name: sig, type: string, default: TERM }
steps:
  - name: die
    run: echo dying; kill -s {{ options.sig }} $$
`,
  parks: `name: parks
description: Sleeps long, for cancel
kind: diagnostic
options:
  - { name: marker, type: string, required: true }
steps:
  - name: park
    run: echo parked; sleep {{ options.marker }}; echo never
`,
  'parks-too-long': `name: parks-too-long
description: Sleeps past its step timeout
kind: diagnostic
options:
  - { name: marker, type: string, required: true }
steps:
  - name: park
    run: echo parked; sleep {{ options.marker }}; echo never
    timeout: 2s
`,
};

const NODES = Array.from({ length: 100 }, (_, i) => `lean-${String(i).padStart(3, '0')}`);

let dir: string;
let t: TestApp;
let lean: SshServer;
let noisy: SshServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'firebreak-exit-codes-'));
  for (const [name, text] of Object.entries(RUNBOOKS))
    writeFileSync(join(dir, `${name}.yaml`), text);
  [lean, noisy, t] = await Promise.all([
    startSshd({ login: 'lean' }),
    startSshd({ login: 'noisy' }),
    startTestApp({ RUNBOOKS_DIR: dir, SSH_MAX_PARALLEL: '200' }),
  ]);
  for (const [i, name] of NODES.entries()) {
    await registerFleet(t, lean, [name], { attributes: { i: String(i) } });
  }
  await registerFleet(t, noisy, ['noisy-1'], { credential: 'noisy-key' });
});

afterAll(async () => {
  await t?.close();
  await Promise.all([lean?.stop(), noisy?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const start = (body: object) =>
  t.http().post('/executions').set('Authorization', t.adminAuth).send(body);

describe('exit statuses through the engine, on the lean login', () => {
  it('true, false and exit 3: 500 runs over 100 node names in parallel, every exit code right', async () => {
    const shifts = [0, 1, 2, 3, 4];
    const started = await Promise.all(
      shifts.map((shift) => start({ runbook: 'exit-mix', nodes: NODES, options: { shift } })),
    );
    for (const res of started) expect(res.status, JSON.stringify(res.body)).toBe(201);
    const finished = await Promise.all(
      started.map((res) => waitFinished(t, res.body.id as string, t.adminAuth, 180_000)),
    );

    let checked = 0;
    for (const [s, done] of finished.entries()) {
      expect(done.status).toBe('failed');
      const byNode = new Map(done.results.map((r) => [r.node as string, r]));
      expect(byNode.size).toBe(NODES.length);
      for (const [i, node] of NODES.entries()) {
        const k = (i + shifts[s]) % 3;
        const want =
          k === 0
            ? { status: 'succeeded', exitCode: 0, error: null }
            : {
                status: 'failed',
                exitCode: k === 1 ? 1 : 3,
                error: `exit code ${k === 1 ? 1 : 3}`,
              };
        expect({ node, ...pick(byNode.get(node)) }).toEqual({ node, ...want });
        checked++;
      }
    }
    expect(checked).toBe(500);
  });

  it.each(['TERM', 'KILL'])('a command killed by SIG%s reports the signal', async (sig) => {
    const res = await start({ runbook: 'dies-by-signal', nodes: ['lean-000'], options: { sig } });
    expect(res.status).toBe(201);
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('failed');
    expect(done.results.map(pick)).toEqual([
      { status: 'failed', exitCode: null, error: `killed by signal SIG${sig}` },
    ]);
  });
});

describe('stopping a step on the noisy login kills the remote process group', () => {
  it('on timeout', async () => {
    const marker = '600.4711';
    const res = await start({
      runbook: 'parks-too-long',
      nodes: ['noisy-1'],
      options: { marker },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await waitForPids(`sleep ${marker}`, (p) => p.length > 0, 10_000)).not.toEqual([]);
    const done = await waitFinished(t, res.body.id as string);
    expect(done.results.map((r) => r.status)).toEqual(['timed_out']);
    expect(await waitForPids(`sleep ${marker}`, (p) => p.length === 0, 5000)).toEqual([]);
    await expectCleanLog(res.body.id as string);
  });

  it('on cancel', async () => {
    const marker = '600.4712';
    const res = await start({ runbook: 'parks', nodes: ['noisy-1'], options: { marker } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await waitForPids(`sleep ${marker}`, (p) => p.length > 0, 10_000)).not.toEqual([]);
    const cancel = await t
      .http()
      .post(`/executions/${res.body.id}/cancel`)
      .set('Authorization', t.adminAuth);
    expect(cancel.status).toBe(201);
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('canceled');
    expect(await waitForPids(`sleep ${marker}`, (p) => p.length === 0, 5000)).toEqual([]);
    await expectCleanLog(res.body.id as string);
  });
});

/** The step's log has the command's output only: no rc-file noise, no marker. */
async function expectCleanLog(id: string): Promise<void> {
  const logs = await t
    .http()
    .get(`/executions/${id}/logs`)
    .query({ node: 'noisy-1' })
    .set('Authorization', t.adminAuth);
  const lines = (logs.body.items as Array<{ stream: string; line: string }>).filter(
    (l) => l.stream === 'stdout' || l.stream === 'stderr',
  );
  expect(lines).toEqual(
    [{ stream: 'stdout', line: 'parked' }].map((l) => expect.objectContaining(l)),
  );
}

function pick(r: Record<string, unknown> | undefined) {
  return { status: r?.status, exitCode: r?.exitCode, error: r?.error };
}
