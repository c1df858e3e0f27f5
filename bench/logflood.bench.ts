import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { ExecutionRunner } from '../src/executions/execution.runner.js';
import { ExecutionsService } from '../src/executions/executions.service.js';
import { registerFleet, waitFinished } from '../test/support/fleet.js';
import { startSshd, type SshServer } from '../test/support/sshd.js';
import { startTestApp, type TestApp } from '../test/support/app.js';
import { parentOf, postgresCpuUs } from './proc-cpu.js';

/**
 * bench/logflood: a step printing LINES lines (`seq 1 LINES`, on the Firebreak host and over SSH)
 * through the full path (API → queue → worker → output → Postgres → NOTIFY → SSE), with VIEWERS
 * live SSE viewers attached from the start. Measured against a bare batched INSERT of the same
 * number of rows in the same run (the floor: pre-built rows, 1,000 per multi-row INSERT, one
 * connection). Reports lines/s stored and its ratio to the floor, the worst viewer lag (from
 * the worker reading a line to a viewer receiving it) and the process's peak RSS. Figures go to
 * stdout and bench/results/logflood.json; compare ratios, not absolute times. The viewers run in
 * a child process, so the RSS is the app's (api + worker) alone.
 *
 *   npm run bench -- bench/logflood.bench.ts
 *   LOGFLOOD_LINES=500000 LOGFLOOD_VIEWERS=20 LOGFLOOD_FORMAT=compact npm run bench -- bench/logflood.bench.ts
 *
 * LOGFLOOD_PROFILE=dir writes a CPU profile of the app (api + worker) per run into dir
 * (`<where>.cpuprofile`, open it in Chrome DevTools), and one of the viewers' process
 * (`viewers-<pid>.cpuprofile`).
 *
 * Each run also prints where the CPU went (this process: api + worker; Postgres; the viewers'
 * process), the worst event-loop delay of the app and of the viewers' process (a viewer process
 * that cannot keep up reads late, and that lag is then its own), the app's GC pauses and the
 * pages read from Postgres by the live streams.
 */
const LINES = Number(process.env.LOGFLOOD_LINES ?? 500_000);
const VIEWERS = Number(process.env.LOGFLOOD_VIEWERS ?? 20);
/**
 * The viewers' stream format: `compact` (pages in columns, what the CLI reads), `batch` (pages,
 * v1) or `line` (one event per line).
 */
const FORMAT = process.env.LOGFLOOD_FORMAT ?? 'compact';

const runbook = (name: string, on: 'local' | 'targets') => `name: ${name}
description: seq 1 ${LINES}
kind: diagnostic
steps:
  - name: flood
    on: ${on}
    run: seq 1 ${LINES}
`;

/**
 * LOGFLOOD_TRACE=1 also prints, per 500 ms of each run, the worst viewer lag and the lines the
 * slowest viewer received, and each viewer's longest wait between two reads.
 */
const TRACE = process.env.LOGFLOOD_TRACE === '1';

/** The floor: LINES rows into a table shaped like execution_logs, 1,000 per INSERT. */
async function bareFloor(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      'CREATE TEMP TABLE floor_logs (LIKE execution_logs INCLUDING DEFAULTS INCLUDING INDEXES)',
    );
    const id = '00000000-0000-4000-8000-000000000000';
    const BATCH = 1000;
    const at = new Date().toISOString();
    const t0 = performance.now();
    for (let start = 0; start < LINES; start += BATCH) {
      const n = Math.min(BATCH, LINES - start);
      const values: string[] = [];
      const params: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const p = params.length;
        values.push(
          `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7})`,
        );
        params.push(id, start + i + 1, at, null, 'flood', 'stdout', String(start + i + 1));
      }
      await c.query(
        `INSERT INTO floor_logs (execution_id, seq, at, node, step, stream, line) VALUES ${values.join(', ')}`,
        params,
      );
    }
    const ms = performance.now() - t0;
    await c.query('DROP TABLE floor_logs');
    return ms;
  } finally {
    await c.end();
  }
}

interface Viewer {
  /** stdout lines received. */
  lines: number;
  /** Worst (receive time − the line's `at`), ms. */
  maxLagMs: number;
  /** When it was seen, ms after the viewer's stream opened. */
  maxLagAtMs: number;
  /** ms from the viewer getting the id to its stream's headers. */
  connectMs: number;
  ended: boolean;
  lagByBucket: number[];
  linesByBucket: number[];
  maxGapMs: number;
  maxGapAtMs: number;
}

/** What the viewers' process reports: the viewers and its own CPU and event-loop delay. */
interface ViewerReport {
  viewers: Viewer[];
  cpuMs: number;
  systemCpuMs: number;
  gcMaxMs: number;
  maxHandlerMs: number;
  maxLoopDelayMs: number;
  bucketMs: number;
}

/**
 * VIEWERS SSE viewers in a child process (bench/logflood-viewers.ts), so the RSS is the app's.
 * Started (and ready) before the run; `attach(id)` connects them.
 */
async function startViewers(
  port: number,
  auth: string,
  n: number,
): Promise<{ attach: (id: string) => Promise<ViewerReport> }> {
  if (n === 0)
    return {
      attach: () =>
        Promise.resolve({
          viewers: [],
          cpuMs: 0,
          systemCpuMs: 0,
          gcMaxMs: 0,
          maxHandlerMs: 0,
          maxLoopDelayMs: 0,
          bucketMs: 500,
        }),
    };
  const child = spawn(
    process.execPath,
    [
      // LOGFLOOD_PROFILE also profiles the viewers' process (viewers-*.cpuprofile there).
      ...(process.env.LOGFLOOD_PROFILE
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${process.env.LOGFLOOD_PROFILE}`,
            '--cpu-prof-name=viewers-${pid}.cpuprofile',
          ]
        : []),
      join(import.meta.dirname, 'logflood-viewers.ts'),
      String(port),
      auth,
      String(n),
      FORMAT,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  const done = new Promise<ViewerReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.slice(out.indexOf('\n') + 1)) as ViewerReport)
        : reject(new Error(`viewers exited ${code}`)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) resolve();
    });
    child.on('close', () => reject(new Error('viewers exited before ready')));
  });
  return {
    attach: (id) => {
      child.stdin.end(`${id}\n`);
      return done;
    },
  };
}

describe('log flood: seq 1 N through the full path, with live viewers', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-flood-'));
    writeFileSync(join(dir, 'flood-local.yaml'), runbook('flood-local', 'local'));
    writeFileSync(join(dir, 'flood-ssh.yaml'), runbook('flood-ssh', 'targets'));
    t = await startTestApp({
      RUNBOOKS_DIR: dir,
      LOG_LEVEL: 'silent',
      // LOCAL_SPAWNER=inline|helper: how the local flood's command starts (default helper).
      ...(process.env.LOCAL_SPAWNER ? { LOCAL_SPAWNER: process.env.LOCAL_SPAWNER } : {}),
    });
    await registerFleet(t, sshd, ['flood-1']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the table', async () => {
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    const [{ pid: backend }] = await t.app
      .get(DataSource)
      .query<Array<{ pid: number }>>('SELECT pg_backend_pid() AS pid');
    const postmaster = parentOf(backend);
    const streams = t.app.get(ExecutionsService);
    const rows: Array<Record<string, number | string>> = [];
    for (const [where, body] of [
      ['local', { runbook: 'flood-local' }],
      ['ssh', { runbook: 'flood-ssh', nodes: ['flood-1'] }],
    ] as const) {
      const floorMs = await bareFloor(t.db.url);
      global.gc?.();
      const rssBefore = process.memoryUsage.rss();
      let peak = rssBefore;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 25);
      const pausesBefore = t.app.get(ExecutionRunner).logStats.pauses;
      const profiler = process.env.LOGFLOOD_PROFILE ? new Session() : undefined;
      if (profiler) {
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      const watchers = await startViewers(port, t.adminAuth, VIEWERS);
      // This process (api + worker): its event loop's delays and its GC pauses during the run.
      const loop = monitorEventLoopDelay({ resolution: 10 });
      const gc = { count: 0, totalMs: 0, maxMs: 0 };
      const gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          gc.count++;
          gc.totalMs += e.duration;
          gc.maxMs = Math.max(gc.maxMs, e.duration);
        }
      });
      gcObserver.observe({ entryTypes: ['gc'] });
      const pageReadsBefore = streams.streamStats.pageReads;
      const cpu0 = process.cpuUsage();
      const pg0 = postgresCpuUs(postmaster);
      loop.enable();
      const t0 = performance.now();
      const res = await t
        .http()
        .post('/executions')
        .set('Authorization', t.adminAuth)
        .send({ ...body, options: {} });
      const id = res.body.id as string;
      const watching = watchers.attach(id);
      const done = await waitFinished(t, id, t.adminAuth, 600_000);
      const storedMs = performance.now() - t0;
      const report = await watching;
      const seen = report.viewers;
      const viewedMs = performance.now() - t0;
      clearInterval(sampler);
      loop.disable();
      gcObserver.disconnect();
      const cpu = process.cpuUsage(cpu0);
      const pgMs = Math.round((postgresCpuUs(postmaster) - pg0) / 1000);
      if (profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        writeFileSync(
          join(process.env.LOGFLOOD_PROFILE!, `${where}.cpuprofile`),
          JSON.stringify(profile),
        );
        profiler.disconnect();
      }
      expect(done.status).toBe('succeeded');
      const [count] = await t.app
        .get(DataSource)
        .query<Array<{ n: string }>>(
          "SELECT count(*) AS n FROM execution_logs WHERE execution_id = $1 AND stream = 'stdout'",
          [id],
        );
      expect(Number(count.n)).toBe(LINES);
      for (const v of seen) expect(v.lines).toBe(LINES);
      const linesPerS = LINES / (storedMs / 1000);
      const floorPerS = LINES / (floorMs / 1000);
      rows.push({
        where,
        lines: LINES,
        viewers: VIEWERS,
        format: FORMAT,
        storedMs: Math.round(storedMs),
        linesPerS: Math.round(linesPerS),
        floorMs: Math.round(floorMs),
        floorPerS: Math.round(floorPerS),
        ratio: Number((linesPerS / floorPerS).toFixed(2)),
        lastViewerDoneMs: Math.round(viewedMs),
        maxViewerLagMs: Math.max(0, ...seen.map((v) => v.maxLagMs)),
        // When the worst viewer saw it (ms after its stream opened), and the slowest connect.
        maxViewerLagAtMs: [...seen].sort((a, b) => b.maxLagMs - a.maxLagMs)[0]?.maxLagAtMs ?? 0,
        maxViewerConnectMs: Math.max(0, ...seen.map((v) => v.connectMs)),
        producerPauses: t.app.get(ExecutionRunner).logStats.pauses - pausesBefore,
        // Where the CPU went (ms): this process (api + worker), Postgres, the viewers' process.
        appCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        postgresCpuMs: pgMs,
        viewersCpuMs: report.cpuMs,
        viewersSystemCpuMs: report.systemCpuMs,
        appSystemCpuMs: Math.round(cpu.system / 1000),
        appMaxLoopDelayMs: Math.round(loop.max / 1e6),
        appLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e6),
        viewersMaxLoopDelayMs: report.maxLoopDelayMs,
        viewersGcMaxMs: report.gcMaxMs,
        viewersMaxHandlerMs: report.maxHandlerMs,
        gcPauses: gc.count,
        gcTotalMs: Math.round(gc.totalMs),
        gcMaxMs: Math.round(gc.maxMs),
        pageReads: streams.streamStats.pageReads - pageReadsBefore,
        rssBeforeMb: Math.round(rssBefore / 2 ** 20),
        rssPeakMb: Math.round(peak / 2 ** 20),
      });
      if (TRACE) {
        // Per bucket of the run (ms after the viewers got the id): the worst lag of any viewer
        // and the lines the slowest viewer received.
        const buckets = Math.max(...seen.map((v) => v.lagByBucket.length));
        const trace: string[] = [];
        for (let b = 0; b < buckets; b++)
          trace.push(
            `${b * report.bucketMs}: ${Math.max(...seen.map((v) => v.lagByBucket[b] ?? 0))} ms / ${Math.min(...seen.map((v) => v.linesByBucket[b] ?? 0))}`,
          );
        console.log(
          `${where} longest wait between reads per viewer (ms, at ms): ${seen.map((v) => `${v.maxGapMs}@${v.maxGapAtMs}`).join(' ')}`,
        );
        console.log(
          `${where} lag (worst, ms) / lines (slowest viewer) per ${report.bucketMs} ms:\n${trace.join('\n')}`,
        );
      }
    }
    const table = [
      '| where | lines | stored in | lines/s | bare INSERT floor | ratio | viewers (format) | worst viewer lag | RSS before → peak |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
      .concat(
        rows.map(
          (r) =>
            `| ${r.where} | ${r.lines} | ${r.storedMs} ms | ${r.linesPerS} | ${r.floorPerS}/s | ${r.ratio}× | ${r.viewers} (${r.format}) | ${r.maxViewerLagMs} ms (at ${r.maxViewerLagAtMs} ms; connect ≤ ${r.maxViewerConnectMs} ms) | ${r.rssBeforeMb} → ${r.rssPeakMb} MB |`,
        ),
      )
      .join('\n');
    console.log(`\n${table}\n`);
    for (const r of rows)
      console.log(
        `${r.where}: CPU ms app ${r.appCpuMs} (system ${r.appSystemCpuMs}) / postgres ${r.postgresCpuMs} / viewers ${r.viewersCpuMs} (system ${r.viewersSystemCpuMs}); app loop delay max ${r.appMaxLoopDelayMs} ms (p99 ${r.appLoopDelayP99Ms}), viewers' ${r.viewersMaxLoopDelayMs} ms (longest GC ${r.viewersGcMaxMs} ms, longest read handler ${r.viewersMaxHandlerMs} ms); GC ${r.gcPauses} pauses, ${r.gcTotalMs} ms, max ${r.gcMaxMs} ms; page reads ${r.pageReads}; producer pauses ${r.producerPauses}`,
      );
    writeFileSync(
      join(import.meta.dirname, 'results', 'logflood.json'),
      JSON.stringify({ at: new Date().toISOString(), rows }, null, 2) + '\n',
    );
  });
});
