import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { request, type IncomingMessage } from 'node:http';
import { followExecution, pageLines, SseParser } from '../src/cli/sse.js';
import type { LogEvent } from '../src/executions/log-stream.js';
import { ExecutionEvents } from '../src/executions/execution-events.js';
import { ExecutionRunner } from '../src/executions/execution.runner.js';
import { ExecutionsService } from '../src/executions/executions.service.js';
import { ExecutionLogWriter } from '../src/executions/log-writer.js';
import { SecretMask } from '../src/executions/secret-mask.js';
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
  'flood-viewed': `name: flood-viewed
description: Lines for a viewer that does not read
kind: diagnostic
steps:
  - name: flood
    on: local
    run: seq 1 200000
`,
  sleeper: `name: sleeper
description: Runs until cancelled
kind: diagnostic
steps:
  - name: wait
    on: local
    run: sleep 600
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

  const port = () => (t.app.getHttpServer().address() as { port: number }).port;

  /** Polls `ok` (no fixed sleeps) until it holds or the deadline passes. */
  const until = async (ok: () => boolean | Promise<boolean>, what: string, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('a viewer that does not read its socket holds at most a page unsent, then gets every line', async () => {
    const stats = t.app.get(ExecutionsService).streamStats;
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'flood-viewed', options: {} });
    const id = res.body.id as string;
    // A viewer that stops reading at once (line format: ≈25 MB of events in all).
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: port(),
          path: `/executions/${id}/stream`,
          headers: { authorization: t.adminAuth, accept: 'text/event-stream' },
        },
        resolve,
      );
      req.on('error', reject);
      req.end();
    });
    expect(stream.statusCode).toBe(200);
    stream.pause();
    expect((await waitFinished(t, id, t.adminAuth, 240_000)).status).toBe('succeeded');
    // The run finished while the viewer read nothing: the server fed it no further than its
    // socket took plus one page (≈250 kB), instead of queueing all the output for it.
    expect(stats.peakUnreadBytes).toBeLessThan(1024 * 1024);
    // Now it reads: every line, once, in order, then the end.
    let seen = 0;
    let inOrder = true;
    let text = '';
    let ended = false;
    stream.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: string) => {
        text += chunk;
        const cut = text.lastIndexOf('\n\n');
        if (cut === -1) return;
        for (const block of text.slice(0, cut).split('\n\n')) {
          if (block.includes('event: end')) ended = true;
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!block.includes('event: log') || !data) continue;
          const e = JSON.parse(data.slice(6)) as { stream: string; line: string };
          if (e.stream !== 'stdout') continue;
          if (e.line !== String(seen + 1)) inOrder = false;
          seen++;
        }
        text = text.slice(cut + 2);
        if (ended) resolve();
      });
      stream.on('end', () => resolve());
      stream.on('error', reject);
      stream.resume();
    });
    expect({ seen, inOrder, ended }).toEqual({ seen: 200_000, inOrder: true, ended: true });
  });

  it('the line, batch and compact formats carry the same lines, seqs and fields as stored', async () => {
    const { id, done } = await run({ runbook: 'limit-truncate', options: { token: 'x' } });
    expect(done.status).toBe('succeeded');
    // Two more lines after a gap in seq, on a node, in one millisecond: a compact run must not
    // span the gap or the change of node.
    const [{ last }] = await ds().query<Array<{ last: number }>>(
      'SELECT max(seq) AS last FROM execution_logs WHERE execution_id = $1',
      [id],
    );
    await ds().query(
      `INSERT INTO execution_logs (execution_id, seq, at, node, step, stream, line)
       VALUES ($1, $2, '2026-01-01T00:00:00.123Z', NULL, 'after', 'stdout', 'a "quoted" line'),
              ($1, $2 + 3, '2026-01-01T00:00:00.123Z', NULL, 'after', 'stdout', 'after a gap'),
              ($1, $2 + 4, '2026-01-01T00:00:00.123Z', 'n-1', 'after', 'stderr', 'ünïcode ✓')`,
      [id, Number(last) + 1],
    );
    const stored = await ds().query<LogEvent[]>(
      `SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, node, step, stream, line
         FROM execution_logs WHERE execution_id = $1 ORDER BY seq`,
      [id],
    );
    const read = (format: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: port(),
            path: `/executions/${id}/stream?format=${format}`,
            headers: { authorization: t.adminAuth, accept: 'text/event-stream' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve(text));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    const decoded: Record<string, unknown[]> = {};
    const ids: Record<string, Array<string | undefined>> = {};
    for (const format of ['line', 'batch', 'compact']) {
      const events = new SseParser().push(await read(format));
      expect(events.at(-1)?.event).toBe('end');
      decoded[format] = events.flatMap((e) =>
        e.event === 'log'
          ? [JSON.parse(e.data)]
          : e.event === 'logs'
            ? pageLines(JSON.parse(e.data))
            : [],
      );
      ids[format] = events.filter((e) => e.event !== 'end').map((e) => e.id);
    }
    expect(decoded.line).toEqual(stored);
    expect(decoded.batch).toEqual(stored);
    expect(decoded.compact).toEqual(stored);
    // A page's id is its last line's seq (what a client resumes after).
    expect(ids.compact.at(-1)).toBe(String(stored.at(-1)!.seq));
    expect(ids.compact).toEqual(ids.batch);
  });

  it('a live viewer whose notice was missed still gets every line, in order (batch format)', async () => {
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'sleeper', options: {} });
    const id = res.body.id as string;
    const lastSeq = async () =>
      Number(
        (
          await ds().query<Array<{ seq: number }>>(
            'SELECT coalesce(max(seq), 0) AS seq FROM execution_logs WHERE execution_id = $1',
            [id],
          )
        )[0].seq,
      );
    const got: Array<{ seq: number; line: string }> = [];
    const token = t.adminAuth.replace(/^Bearer /, '');
    const base = `http://127.0.0.1:${port()}`;
    const following = followExecution(base, token, id, (l) => got.push(l));
    // The command runs: its `$ sleep 600` line was written and reached the viewer.
    await until(async () => got.some((l) => l.line === '$ sleep 600'), 'the first lines');
    const last = await lastSeq();
    await until(() => got.at(-1)?.seq === last, 'the viewer to catch up');
    // Ten lines whose notice never came (written with no NOTIFY), then two announced with their
    // lines in the notice, as the log writer does for small batches.
    const line = (seq: number) => ({
      seq,
      at: new Date().toISOString(),
      node: null,
      step: 'wait',
      stream: 'stdout',
      line: `extra ${seq}`,
    });
    const insert = (rows: Array<ReturnType<typeof line>>) =>
      ds().query(
        `INSERT INTO execution_logs (execution_id, seq, at, node, step, stream, line)
         SELECT $1, u.seq, u.at, NULL, u.step, u.stream, u.line
           FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
             AS u(seq, at, step, stream, line)`,
        [
          id,
          rows.map((r) => r.seq),
          rows.map((r) => r.at),
          rows.map((r) => r.step),
          rows.map((r) => r.stream),
          rows.map((r) => r.line),
        ],
      );
    const missed = Array.from({ length: 10 }, (_, i) => line(last + 1 + i));
    await insert(missed);
    const announced = [line(last + 11), line(last + 12)];
    await insert(announced);
    await t.app
      .get(ExecutionEvents)
      .publish({ id, kind: 'logs', from: last + 10, lines: announced });
    await until(() => (got.at(-1)?.seq ?? 0) >= last + 12, 'the extra lines', 30_000);
    expect(got.filter((l) => l.seq > last).map((l) => l.line)).toEqual(
      [...missed, ...announced].map((r) => r.line),
    );
    // A bad format is refused, naming the parameter.
    const bad = await t
      .http()
      .get(`/executions/${id}/stream?format=xml`)
      .set('Authorization', t.adminAuth);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('format');
    // Stop it (its worker's next line then collides with the lines written here: the run
    // ends as failed or cancelled; what matters here is the stream).
    await t.http().post(`/executions/${id}/cancel`).set('Authorization', t.adminAuth);
    await waitFinished(t, id, t.adminAuth, 60_000);
    await following.catch(() => undefined);
  });
  it('a viewer far behind another is served the pages the first one read, with no reads of its own', async () => {
    const stats = t.app.get(ExecutionsService).streamStats;
    const res = await t
      .http()
      .post('/executions')
      .set('Authorization', t.adminAuth)
      .send({ runbook: 'sleeper', options: {} });
    const id = res.body.id as string;
    const token = t.adminAuth.replace(/^Bearer /, '');
    const base = `http://127.0.0.1:${port()}`;
    const a: Array<{ seq: number; line: string }> = [];
    const followingA = followExecution(base, token, id, (l) => a.push(l));
    await until(() => a.some((l) => l.line === '$ sleep 600'), 'the first lines');
    const [{ seq: last }] = await ds().query<Array<{ seq: number }>>(
      'SELECT max(seq) AS seq FROM execution_logs WHERE execution_id = $1',
      [id],
    );
    // 15 pages of lines at once (as a flood writes them), then the notice.
    const n = 30_000;
    const seqs = Array.from({ length: n }, (_, i) => last + 1 + i);
    await ds().query(
      `INSERT INTO execution_logs (execution_id, seq, at, node, step, stream, line)
       SELECT $1, u.seq, now(), NULL, 'wait', 'stdout', 'line ' || u.seq
         FROM unnest($2::int[]) AS u(seq)`,
      [id, seqs],
    );
    await t.app.get(ExecutionEvents).publish({ id, kind: 'logs' });
    await until(() => a.at(-1)?.seq === last + n, 'the first viewer to catch up');
    // A second viewer from the start, while the first is still attached: every page it needs
    // is kept (the first one read them), so the database is asked at most for what follows.
    const readsBefore = stats.pageReads;
    const b: Array<{ seq: number; line: string }> = [];
    const followingB = followExecution(base, token, id, (l) => b.push(l));
    await until(() => b.at(-1)?.seq === last + n, 'the second viewer to catch up');
    expect(stats.pageReads - readsBefore).toBeLessThanOrEqual(2);
    expect(b.map((l) => l.seq)).toEqual(a.map((l) => l.seq));
    await t.http().post(`/executions/${id}/cancel`).set('Authorization', t.adminAuth);
    await waitFinished(t, id, t.adminAuth, 60_000);
    await Promise.all([followingA, followingB].map((f) => f.catch(() => undefined)));
  });

  it("a step's first line is written at once while a flood of another step is still batched", async () => {
    const { id } = await run({ runbook: 'limit-truncate', options: { token: 'x' } });
    // Its own seq range past the run's lines; batches wait a minute for company, no eager ones.
    const w = new ExecutionLogWriter(
      ds(),
      t.app.get(ExecutionEvents),
      id,
      1_000_000,
      new SecretMask([]),
      {
        flushMs: 60_000,
        eagerBatches: 0,
      },
    );
    w.write(null, 'one', 'stdout', 'first line of one');
    await until(() => w.stats.stored === 1, 'the first line of step one');
    // A flood of the same step goes in full batches (5,000 rows), not a statement a line.
    for (let i = 0; i < 12_000; i++) w.write(null, 'one', 'stdout', `flood ${i}`);
    await until(() => w.stats.stored === 12_001, 'the flood');
    expect(w.stats.batches).toBeLessThanOrEqual(4);
    const before = w.stats.batches;
    // A later line of step one waits for company (a minute here); the first line of step two
    // does not, and takes it along: one batch for both.
    w.write(null, 'one', 'stdout', 'later line of one');
    w.write(null, 'two', 'stdout', 'first line of two');
    await until(() => w.stats.stored === 12_003, 'the first line of step two');
    expect(w.stats.batches).toBe(before + 1);
    // Step two's next line waits again (flushed here by hand).
    w.write(null, 'two', 'stdout', 'second line of two');
    await w.flush();
    expect(w.stats.batches).toBe(before + 2);
    const [{ n }] = await ds().query<Array<{ n: string }>>(
      'SELECT count(*) AS n FROM execution_logs WHERE execution_id = $1 AND seq > 1000000',
      [id],
    );
    expect(Number(n)).toBe(12_004);
  });
});
