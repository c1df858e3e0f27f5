import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ExecutionRunner } from '../src/executions/execution.runner.js';
import { registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

const RUNBOOKS: Record<string, string> = {
  'flood-local': `name: flood-local
description: Half a million lines on the Firebreak host
kind: diagnostic
steps:
  - name: flood
    on: local
    run: seq 1 500000
`,
  'flood-ssh': `name: flood-ssh
description: Half a million lines on a node
kind: diagnostic
steps:
  - name: flood
    run: seq 1 500000
`,
  'limit-truncate': `name: limit-truncate
description: More output than its limit allows, truncated
kind: diagnostic
logLimit: { lines: 100, action: truncate }
steps:
  - name: flood
    on: local
    run: echo secret-{{ options.token }}; seq 1 1000
  - name: after
    on: local
    run: echo still running
options:
  - { name: token, type: secure }
`,
  'limit-fail': `name: limit-fail
description: Endless output past a byte limit stops the run
kind: diagnostic
logLimit: { bytes: 1kb, action: fail }
steps:
  - name: endless
    on: local
    run: yes flood
  - name: never
    on: local
    run: echo unreachable
`,
};

describe('log floods: stored in full, with backpressure, and output limits (real Postgres)', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-flood-runbooks-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({ RUNBOOKS_DIR: dir });
    await registerFleet(t, sshd, ['flood-1']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (body: object) => {
    const res = await t.http().post('/executions').set('Authorization', t.adminAuth).send(body);
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    return { id, done: await waitFinished(t, id, t.adminAuth, 240_000) };
  };
  const ds = () => t.app.get(DataSource);

  /** Every stdout line is `1`…`n` in seq order, and seq itself has no gap. */
  const expectSeqOutput = async (id: string, n: number) => {
    const [all] = await ds().query<Array<{ rows: string; first: number; last: number }>>(
      'SELECT count(*) AS rows, min(seq) AS first, max(seq) AS last FROM execution_logs WHERE execution_id = $1',
      [id],
    );
    expect(Number(all.first)).toBe(1);
    expect(Number(all.last)).toBe(Number(all.rows));
    const [out] = await ds().query<Array<{ lines: string; in_order: string }>>(
      `SELECT count(*) AS lines, count(*) FILTER (WHERE line = n::text) AS in_order
         FROM (SELECT line, row_number() OVER (ORDER BY seq) AS n
                 FROM execution_logs WHERE execution_id = $1 AND stream = 'stdout') s`,
      [id],
    );
    expect(Number(out.lines)).toBe(n);
    expect(Number(out.in_order)).toBe(n);
  };

  it('a 500,000-line local step is stored in full, in order, and its producer was paused', async () => {
    const stats = t.app.get(ExecutionRunner).logStats;
    const pausesBefore = stats.pauses;
    const { id, done } = await run({ runbook: 'flood-local', options: {} });
    expect(done.status).toBe('succeeded');
    await expectSeqOutput(id, 500_000);
    // The command writes far faster than Postgres stores: the writer's queue filled and the
    // child's pipes were paused, rather than buffering everything in the worker.
    expect(stats.pauses).toBeGreaterThan(pausesBefore);
    expect(stats.dropped).toBe(0);
  });

  it('the same over SSH: stored in full, the channel paused and resumed without losing a line', async () => {
    const stats = t.app.get(ExecutionRunner).logStats;
    const pausesBefore = stats.pauses;
    const { id, done } = await run({ runbook: 'flood-ssh', options: {}, nodes: ['flood-1'] });
    expect(done.status).toBe('succeeded');
    await expectSeqOutput(id, 500_000);
    expect(stats.pauses).toBeGreaterThan(pausesBefore);
  });

  it('past a truncate limit, output is not stored, one system line says so, the run goes on', async () => {
    const { id, done } = await run({
      runbook: 'limit-truncate',
      options: { token: 'hunter2-xyz' },
    });
    expect(done.status).toBe('succeeded');
    const rows = await ds().query<Array<{ step: string; stream: string; line: string }>>(
      'SELECT step, stream, line FROM execution_logs WHERE execution_id = $1 ORDER BY seq',
      [id],
    );
    const flood = rows.filter((r) => r.step === 'flood' && r.stream === 'stdout');
    // Masked before it is stored or counted.
    expect(flood.map((r) => r.line)).toEqual([
      'secret-****',
      ...Array.from({ length: 99 }, (_, i) => `${i + 1}`),
    ]);
    expect(rows).toContainEqual({
      step: 'flood',
      stream: 'system',
      line: 'output limit of 100 lines reached: further output is not stored',
    });
    // The limit counts output lines, not system lines: the next step still runs and reports.
    expect(rows).toContainEqual({ step: 'after', stream: 'system', line: '$ echo still running' });
    expect(JSON.stringify(rows)).not.toContain('hunter2-xyz');
  });

  it('past a fail limit, the endless command is stopped and the run fails with the reason', async () => {
    const { id, done } = await run({ runbook: 'limit-fail', options: {} });
    expect(done.status).toBe('failed');
    expect(done.error).toBe('output limit of 1024 bytes reached');
    const rows = await ds().query<Array<{ step: string | null; stream: string; line: string }>>(
      'SELECT step, stream, line FROM execution_logs WHERE execution_id = $1 ORDER BY seq',
      [id],
    );
    const stored = rows.filter((r) => r.stream === 'stdout');
    // "flood\n" is 6 bytes: 170 lines fit in 1024 bytes.
    expect(stored).toHaveLength(170);
    expect(rows.map((r) => r.line)).toContain(
      'output limit of 1024 bytes reached: the run is stopped',
    );
    expect(rows.some((r) => r.step === 'never')).toBe(false);
  });
});
