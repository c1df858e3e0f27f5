import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  subscribe as subscribeChannel,
  unsubscribe as unsubscribeChannel,
} from 'node:diagnostics_channel';

import { Session } from 'node:inspector/promises';

import { Client } from 'ssh2';

import { DataSource } from 'typeorm';

import { ExecutionEvents } from '../src/executions/execution-events.js';
import type { Sample } from './dispatch-client.ts';
import { isFinal, type ExecutionStatus } from '../src/executions/execution-state.js';

import { registerFleet } from '../test/support/fleet.js';
import { startSshd, type SshServer } from '../test/support/sshd.js';
import { startTestApp, type TestApp } from '../test/support/app.js';
import { childrenOf, parentOf, postgresCpuUs, procCpuUs } from './proc-cpu.js';

/**
 * bench/fanout (`npm run bench`), two figures:
 *
 * 1. Fan-out: `uname -a` on N node names through the full path (API → queue → worker → SSH →
 *    every line stored → final status; every node's exit code checked), against a bare ssh2
 *    client doing the same work in the same run (the floor: one connection and one exec per
 *    node, exit code checked, the faster of two ways: at most FANOUT_PARALLEL at once, as
 *    Firebreak's SSH_MAX_PARALLEL allows it, and all at once). The nodes are names for FANOUT_SSHDS loopback sshd (node i on sshd
 *    i mod FANOUT_SSHDS), all on the lean login (no rc file runs, as on a usual server).
 * 2. Dispatch latency: POST /executions of a one-line `on: local` step → its first output line
 *    on the SSE stream, p50/p95 over DISPATCH_RUNS runs.
 *
 * Figures go to stdout and bench/results/fanout.json; compare ratios, not absolute times (the
 * machine is shared). Not part of `npm test`.
 */
const SIZES = (process.env.FANOUT_SIZES ?? '10,100,1000')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number);
const ROUNDS = Number(process.env.FANOUT_ROUNDS ?? 3);
const DISPATCH_RUNS = Number(process.env.DISPATCH_RUNS ?? 200);
/** Loopback sshd instances the node names are spread over (one sshd forks every session). */
const SSHDS = Number(process.env.FANOUT_SSHDS ?? 4);
/** SSH commands in flight: Firebreak's SSH_MAX_PARALLEL (its default) and the floor's bound. */
const PARALLEL = Number(process.env.FANOUT_PARALLEL ?? 100);
/**
 * The test fleet's sshd, the same for Firebreak and the floor. On a real fleet each server does
 * its login work (re-exec, key exchange, host-key signature, checking the user's signature,
 * session fork) on its own CPU; here every sshd shares the 2 cores with the client, and that
 * server work is most of the floor (see README "Benchmarks").
 * - `light` (default): `sshd -r` (no re-exec per connection), ECDH P-256 key exchange and ECDSA
 *   P-256 host and client keys, which OpenSSH 9.2 computes with OpenSSL's optimised code rather
 *   than its portable curve25519/ed25519 code: the same checks, less server CPU per login.
 * - `stock`: OpenSSH's defaults (re-exec, curve25519, ed25519), as measured before 2026-12-02.
 */
const FLEET = (process.env.FANOUT_FLEET ?? 'light') as 'light' | 'stock';
const FLEET_OPTIONS =
  FLEET === 'stock'
    ? {}
    : { reexec: false, keyType: 'ecdsa' as const, kexAlgorithms: ['ecdh-sha2-nistp256'] };

const RUNBOOKS: Record<string, string> = {
  'fanout-uname': `name: fanout-uname
description: uname -a everywhere
kind: diagnostic
targets: { strategy: parallel, maxParallel: 1000 }
steps:
  - name: uname
    run: uname -a
`,
  'dispatch-echo': `name: dispatch-echo
description: One line, on the Firebreak host
kind: diagnostic
steps:
  - name: echo
    on: local
    run: echo dispatched
`,
};

const nodeName = (i: number) => `node-${String(i + 1).padStart(4, '0')}`;

const sshdOf = (sshds: SshServer[], i: number) => sshds[i % sshds.length];

/**
 * One connection and one `uname -a` per node (node i on sshd i mod SSHDS), at most
 * `parallel` at once; resolves with the elapsed ms.
 */
async function bareFloor(sshds: SshServer[], n: number, parallel: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const one = (sshd: SshServer) =>
    new Promise<void>((resolve, reject) => {
      const c = new Client();
      c.on('ready', () =>
        c.exec('uname -a', (err, stream) => {
          if (err) return reject(err);
          let out = '';
          let code: number | null = null;
          stream.on('exit', (c: number | null) => (code = c));
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.stderr.resume();
          stream.on('close', () => {
            c.end();
            if (!out.includes('Linux') || code !== 0)
              reject(new Error(`floor: exit ${code}, output ${JSON.stringify(out)}`));
            else resolve();
          });
        }),
      )
        .on('error', reject)
        .connect({
          host: sshd.host,
          port: sshd.port,
          username: sshd.username,
          privateKey: sshd.privateKey,
          readyTimeout: 120_000,
        });
    });
  await Promise.all(
    Array.from({ length: Math.min(n, parallel) }, async () => {
      while (next < n) {
        const i = next++;
        await one(sshdOf(sshds, i));
      }
    }),
  );
  return performance.now() - t0;
}

/**
 * FANOUT_CPU_PROF=DIR: a CPU profile of this process (the api and the worker run in it) during
 * each Firebreak round, written as DIR/fanout-N-ROUND.cpuprofile (open in Chrome DevTools).
 */
async function startProfile(): Promise<((name: string) => Promise<void>) | undefined> {
  const dir = process.env.FANOUT_CPU_PROF;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async (name) => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * Where a round's CPU goes, in ms: this process (the bench's client, and Firebreak's api and
 * worker: they run in it), the fleet's sshd (listeners and every finished login under them) and
 * the test database's Postgres (postmaster, finished and live backends).
 */
interface CpuSplit {
  clientMs: number;
  sshdMs: number;
  postgresMs: number;
}
function cpuMeter(sshdPids: number[], postmaster: number): () => CpuSplit {
  const read = () => {
    const { user, system } = process.cpuUsage();
    return {
      clientMs: (user + system) / 1000,
      sshdMs: sshdPids.reduce((sum, pid) => sum + procCpuUs(pid, true), 0) / 1000,
      postgresMs: postgresCpuUs(postmaster) / 1000,
    };
  };
  const start = read();
  return () => {
    const end = read();
    return {
      clientMs: Math.round(end.clientMs - start.clientMs),
      sshdMs: Math.round(end.sshdMs - start.sshdMs),
      postgresMs: Math.round(end.postgresMs - start.postgresMs),
    };
  };
}

/** Waits until no login is left under the fleet's sshd (their CPU is then counted). */
async function settled(sshds: SshServer[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && sshds.some((s) => childrenOf(s.pid).length > 0))
    await new Promise((r) => setTimeout(r, 50));
}

/**
 * Resolves with the execution once it is final: woken by its status notices (no polling load
 * on the api while the round runs), checked by one GET each time, and every 5 s regardless.
 */
async function waitFinal(t: TestApp, id: string, timeoutMs: number) {
  let wake = () => {};
  const unsubscribe = await t.app.get(ExecutionEvents).subscribe(id, (n) => {
    if (n.kind === 'status') wake();
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const res = await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth);
      if (isFinal(res.body.status as ExecutionStatus))
        return res.body as {
          status: string;
          error: string | null;
          finishedAt: string;
          results: Array<Record<string, unknown>>;
        };
      if (Date.now() > deadline) throw new Error(`execution ${id} still ${res.body.status}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** Runs bench/dispatch-client.ts (its own process) and returns its samples. */
function runClient(port: number, auth: string, runbook: string, runs: number) {
  return new Promise<Sample[]>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'dispatch-client.ts'), String(port), auth, runbook, String(runs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`dispatch client exited ${code}`)),
    );
  });
}

describe('bench/fanout', () => {
  let t: TestApp;
  let sshds: SshServer[] = [];
  let dir: string;
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    target: 'lean',
    fleet: FLEET,
    sshds: SSHDS,
    parallel: PARALLEL,
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    [sshds, t] = await Promise.all([
      Promise.all(
        Array.from({ length: SIZES.length ? SSHDS : 0 }, () =>
          startSshd({ login: 'lean', ...FLEET_OPTIONS }),
        ),
      ),
      startTestApp({
        RUNBOOKS_DIR: dir,
        SSH_MAX_PARALLEL: String(PARALLEL),
        LOG_LEVEL: 'silent',
        ...(process.env.LOCAL_SPAWNER ? { LOCAL_SPAWNER: process.env.LOCAL_SPAWNER } : {}),
      }),
    ]);
    // One credential (the first sshd's key) for every node: the others accept it too.
    for (const s of sshds.slice(1)) await s.authorizeKey(sshds[0].publicKey);
    for (const s of sshds) s.privateKey = sshds[0].privateKey;
    const names = Array.from({ length: Math.max(0, ...SIZES) }, (_, i) => nodeName(i));
    // Creates the credential (none with FANOUT_SIZES empty: dispatch only).
    if (names.length) await registerFleet(t, sshds[0], names.slice(0, 1));
    for (let i = 1; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((name, j) => registerFleet(t, sshdOf(sshds, i + j), [name])),
      );
    }
  }, 900_000); // 1,000 audited node registrations: minutes on a loaded machine
  afterAll(async () => {
    await t?.close();
    await Promise.all(sshds.map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    writeFileSync(
      join(import.meta.dirname, 'results', 'fanout.json'),
      JSON.stringify(results, null, 2) + '\n',
    );
  });

  it('fan-out: uname -a on N nodes, against the bare ssh2 floor', async () => {
    const [{ pid }] = await t.app
      .get(DataSource)
      .query<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid');
    const postmaster = parentOf(pid);
    const cpu: Array<{ n: number; round: number; what: string; ms: number } & CpuSplit> = [];
    const rows: Array<{
      n: number;
      firebreakMs: number;
      floorMs: number;
      floorBoundedMs: number;
      floorAllAtOnceMs: number;
      ratio: number;
    }> = [];
    for (const n of SIZES) {
      const nodes = Array.from({ length: n }, (_, i) => nodeName(i));
      const fb: number[] = [];
      const floor: number[] = [];
      const bounded: number[] = [];
      const allAtOnce: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const measured = async (work: () => Promise<number>) => {
          const meter = cpuMeter(
            sshds.map((x) => x.pid),
            postmaster,
          );
          const ms = await work();
          await settled(sshds);
          cpu.push({ n, round: r, what: '', ms: Math.round(ms), ...meter() });
          return ms;
        };
        bounded.push(await measured(() => bareFloor(sshds, n, PARALLEL)));
        cpu.at(-1)!.what = `floor, at most ${PARALLEL} at once`;
        if (n > PARALLEL) {
          allAtOnce.push(await measured(() => bareFloor(sshds, n, n)));
          cpu.at(-1)!.what = 'floor, all at once';
        } else allAtOnce.push(bounded.at(-1)!);
        floor.push(Math.min(bounded.at(-1)!, allAtOnce.at(-1)!));
        let id = '';
        let done: Awaited<ReturnType<typeof waitFinal>> | undefined;
        const profile = await startProfile();
        await measured(async () => {
          const t0 = Date.now();
          const res = await t
            .http()
            .post('/executions')
            .set('Authorization', t.adminAuth)
            .send({ runbook: 'fanout-uname', nodes });
          expect(res.status, JSON.stringify(res.body)).toBe(201);
          id = res.body.id as string;
          done = await waitFinal(t, id, 600_000);
          // Until the final status was recorded (its time, from this machine's clock), not
          // until the client saw it.
          return Date.parse(done.finishedAt) - t0;
        });
        const [span] = await t.app
          .get(DataSource)
          .query<Array<{ first: number; last: number; ended: number; final: number }>>(
            `SELECT extract(epoch FROM min(r.started_at) - e.started_at) * 1000 AS first,
                  extract(epoch FROM max(r.started_at) - e.started_at) * 1000 AS last,
                  extract(epoch FROM max(r.finished_at) - e.started_at) * 1000 AS ended,
                  extract(epoch FROM e.finished_at - e.started_at) * 1000 AS final
             FROM execution_results r JOIN executions e ON e.id = r.execution_id
            WHERE e.id = $1 GROUP BY e.id`,
            [id],
          );
        const ms = (x: number) => Math.round(Number(x));
        cpu.at(-1)!.what =
          `Firebreak (ms after the claim: the nodes' steps started ${ms(span.first)}–${ms(span.last)}, ` +
          `the last ended ${ms(span.ended)}, final status ${ms(span.final)})`;
        fb.push(cpu.at(-1)!.ms);
        await profile?.(`fanout-${n}-${r}`);
        const failures = new Map<string, number>();
        for (const x of done!.results.filter((x) => x.status !== 'succeeded')) {
          const why = typeof x.error === 'string' ? x.error : `exit ${JSON.stringify(x.exitCode)}`;
          failures.set(why, (failures.get(why) ?? 0) + 1);
        }
        if (failures.size) console.log(`N=${n}: failed nodes, by error:`, failures);
        expect(done!.status, done!.error ?? '').toBe('succeeded');
        expect(done!.results).toHaveLength(n);
        expect(
          done!.results.filter((x) => x.exitCode === 0 && x.status === 'succeeded'),
        ).toHaveLength(n);
        const logs = await t
          .http()
          .get(`/executions/${id}/logs?limit=10000`)
          .set('Authorization', t.adminAuth);
        expect(
          (logs.body.items as Array<{ stream: string }>).filter((l) => l.stream === 'stdout'),
        ).toHaveLength(n);
      }
      rows.push({
        n,
        firebreakMs: Math.round(median(fb)),
        floorMs: Math.round(median(floor)),
        floorBoundedMs: Math.round(median(bounded)),
        floorAllAtOnceMs: Math.round(median(allAtOnce)),
        ratio: Number((median(fb) / median(floor)).toFixed(2)),
      });
    }
    const table = [
      '| nodes | Firebreak (API → queue → worker → SSH → logs → status) | bare ssh2 floor (faster of: bounded / all at once) | ratio |',
      '|---:|---:|---:|---:|',
    ]
      .concat(
        rows.map(
          (r) =>
            `| ${r.n} | ${r.firebreakMs} ms | ${r.floorMs} ms (${r.floorBoundedMs} / ${r.floorAllAtOnceMs}) | ${r.ratio}× |`,
        ),
      )
      .join('\n');
    console.log(
      `\nfan-out on the lean login, ${SSHDS} sshd, SSH_MAX_PARALLEL ${PARALLEL}, floor bounded at ${PARALLEL}, median of ${ROUNDS} rounds\n${table}\n`,
    );
    console.log(
      `CPU of each measured run (ms; ${SSHDS} sshd incl. their logins, Postgres incl. backends):\n` +
        cpu
          .map(
            (c) =>
              `  N=${c.n} round ${c.round + 1} ${c.what}: wall ${c.ms}, client ${c.clientMs}, sshd ${c.sshdMs}, postgres ${c.postgresMs}; per node: client ${(c.clientMs / c.n).toFixed(1)}, sshd ${(c.sshdMs / c.n).toFixed(1)}, postgres ${(c.postgresMs / c.n).toFixed(1)}`,
          )
          .join('\n') +
        '\n',
    );
    results.fanout = { rounds: ROUNDS, rows, cpu };
  });

  it('dispatch latency: POST /executions → first output line on the SSE stream', async () => {
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    // The client is its own process (bench/dispatch-client.ts), as `firebreak run --follow` is:
    // this process is the service (api + worker) alone. Where the time goes, each segment's end
    // in ms after the POST was sent (wall clock; the database's and both processes' clocks are
    // this machine's):
    const seg = {
      rowCreated: [] as number[], // the row's created_at (the create transaction's start)
      apiAnswered: [] as number[], // the 201 reached the client
      pickedUp: [] as number[], // started_at: the worker's claim
      runStarted: [] as number[], // the first (system) log line's time
      spawned: [] as number[], // the step's process exists (firebreak:local-spawned: its pid is known)
      lineProduced: [] as number[], // the output line's time (the worker read it)
      notified: [] as number[], // the NOTIFY carrying it reached this process
      streamOpened: [] as number[], // the SSE response's headers reached the client
      onStream: [] as number[], // the line reached the client
    };
    const spawned: Array<{ at: number; command: string }> = [];
    const onSpawn = (m: unknown) =>
      spawned.push({ at: Date.now(), command: (m as { command: string }).command });
    subscribeChannel('firebreak:local-spawned', onSpawn);
    const notifiedAt = new Map<string, number>();
    const unsubscribe = await t.app.get(ExecutionEvents).subscribe('*', (n) => {
      if (n.kind === 'logs' && n.lines?.some((l) => l.stream === 'stdout') && !notifiedAt.has(n.id))
        notifiedAt.set(n.id, Date.now());
    });
    // DISPATCH_QUERIES=1: the statements a run sends (counted over all runs) and run 100's
    // statements in time (ms after its POST: sent → answered).
    const qcount = new Map<string, number>();
    const qlog: Array<{ s: number; e: number; k: string }> = [];
    if (process.env.DISPATCH_QUERIES) {
      const pg = (await import('pg')).default;
      const orig = pg.Client.prototype.query;
      pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
        const q =
          typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '?');
        const k = q.replace(/\s+/g, ' ').slice(0, 110);
        qcount.set(k, (qcount.get(k) ?? 0) + 1);
        if (process.env.DISPATCH_QUERIES === 'stacks' && k.includes('"ExecutionEntity"."id"')) {
          const st = (new Error().stack ?? '')
            .split('\n')
            .filter((l) => l.includes('/src/'))
            .slice(0, 3)
            .map((l) => l.trim().replace(/.*\/src\//, ''))
            .join(' < ');
          qcount.set('STACK ' + st, (qcount.get('STACK ' + st) ?? 0) + 1);
        }
        const rec = { s: performance.timeOrigin + performance.now(), e: 0, k };
        qlog.push(rec);
        const r = (orig as (...a: unknown[]) => unknown).apply(this, args);
        if (r && typeof (r as Promise<unknown>).then === 'function')
          (r as Promise<unknown>).then(
            () => (rec.e = performance.timeOrigin + performance.now()),
            () => (rec.e = -1),
          );
        return r;
      } as typeof orig;
    }
    const stopProfile = await startProfile();
    // 10 unmeasured runs first: connection pools, JIT.
    const all = await runClient(port, t.adminAuth, 'dispatch-echo', DISPATCH_RUNS + 10);
    await stopProfile?.('dispatch');
    if (qlog.length) {
      const r = all[Math.min(100, all.length - 1)];
      console.log(
        `run 100, client: answered ${r.answeredMs.toFixed(1)} opened ${r.openedMs.toFixed(1)} onStream ${r.onStreamMs.toFixed(1)}`,
      );
      for (const q of qlog.filter((q) => q.s >= r.postAt - 1 && q.s <= r.postAt + r.onStreamMs + 3))
        console.log(
          `  ${(q.s - r.postAt).toFixed(1).padStart(6)} → ${(q.e - r.postAt).toFixed(1).padStart(6)}  ${q.k.slice(0, 90)}`,
        );
    }
    if (qcount.size)
      console.log(
        'statements per run:\n' +
          [...qcount]
            .sort((a, b) => b[1] - a[1])
            .map(([k, c]) => `${(c / (DISPATCH_RUNS + 10)).toFixed(2)} ${k}`)
            .join('\n'),
      );
    unsubscribeChannel('firebreak:local-spawned', onSpawn);
    unsubscribe();
    // One spawn per run, in order (runs do not overlap: the client waits for each one's end).
    const spawns = spawned.filter((s) => s.command === 'echo dispatched').map((s) => s.at);
    expect(spawns).toHaveLength(all.length);
    const samples: number[] = [];
    for (const [i, r] of all.entries()) {
      expect(r.line).toBe('dispatched');
      if (i < 10) continue;
      const row = await t.app
        .get(DataSource)
        .query<Array<{ created: string; started: string }>>(
          `SELECT created_at AS created, started_at AS started FROM executions WHERE id = $1`,
          [r.id],
        );
      samples.push(r.onStreamMs);
      seg.rowCreated.push(new Date(row[0].created).getTime() - r.postAt);
      seg.apiAnswered.push(r.answeredMs);
      seg.pickedUp.push(new Date(row[0].started).getTime() - r.postAt);
      seg.runStarted.push(Date.parse(r.firstAt) - r.postAt);
      seg.spawned.push(spawns[i] - r.postAt);
      seg.lineProduced.push(Date.parse(r.at) - r.postAt);
      seg.notified.push((notifiedAt.get(r.id) ?? NaN) - r.postAt);
      seg.streamOpened.push(r.openedMs);
      seg.onStream.push(r.onStreamMs);
    }
    const p50 = Number(percentile(samples, 50).toFixed(1));
    const p95 = Number(percentile(samples, 95).toFixed(1));
    const p50Of = (xs: number[]) => Number(percentile(xs, 50).toFixed(1));
    const breakdown = Object.fromEntries(
      Object.entries(seg).map(([k, xs]) => [`${k}Ms`, p50Of(xs.filter((x) => !Number.isNaN(x)))]),
    );
    console.log(
      `\ndispatch latency over ${samples.length} runs: p50 ${p50} ms, p95 ${p95} ms\n` +
        `p50 of each segment's end, ms after the POST: ` +
        Object.entries(breakdown)
          .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`)
          .join(', ') +
        '\n',
    );
    results.dispatch = { runs: samples.length, p50Ms: p50, p95Ms: p95, p50Breakdown: breakdown };
  });
});
