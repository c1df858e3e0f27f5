import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { Controller, HttpCode, Module, Post, Body } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import { DataSource } from 'typeorm';
import { AlertProcessor } from '../src/alerts/alert-processor.js';
import { MetricsService } from '../src/observability/metrics.service.js';
import { startTestApp, type TestApp } from '../test/support/app.js';
import { parentOf, postgresCpuUs } from './proc-cpu.js';

/**
 * bench/alerts (`npm run bench -- bench/alerts.bench.ts`), two figures:
 *
 * 1. Ingest: Alertmanager webhook v4 payloads (two alerts each; fingerprints cycle over
 *    ALERTS_FINGERPRINTS, so new alerts first, then repeats) POSTed to the integration's hook
 *    with ALERTS_CONNECTIONS connections for ALERTS_SECONDS, by a child process (undici Pool),
 *    every answer a 202 (stored) — against a bare NestJS POST route in this same process that
 *    only parses the body (express.json, as the app does) and answers 202, in the same run:
 *    once before the hook's load and once after its deliveries were processed, the ratio taken
 *    against their mean (the machine's speed drifts). Then the time until every stored delivery
 *    is processed (deduplicated: one row per fingerprint, checked). ALERTS_QUERIES=1 prints the
 *    statements of that processing, by total time, and how long one alert of a new group, sent
 *    halfway through the load, took from stored to processed. Then the intake alone (processing held),
 *    interleaved: ALERTS_SEGMENTS pairs of ALERTS_SEGMENT_MS segments, bare and hook in the order
 *    bare, hook, hook, bare, …, the ratio of their summed rates (a drift of the machine's speed
 *    within the run weighs on both alike), with each pair's ratio's min / median / max; and the same
 *    with the processing on, each hook segment a storm of its own, processed before the next.
 * 2. Alert → diagnostic: one firing alert at a time whose trigger starts an `on: local` echo;
 *    POST → the execution's `started_at` (running) and → its first stdout line's `at`,
 *    p50/p95/p99 over ALERTS_LATENCY_RUNS (10 more unmeasured first).
 *
 * Figures go to stdout and bench/results/alerts.json. Not part of `npm test`.
 */
const SECONDS = Number(process.env.ALERTS_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.ALERTS_CONNECTIONS ?? 20);
const FINGERPRINTS = Number(process.env.ALERTS_FINGERPRINTS ?? 2000);
const LATENCY_RUNS = Number(process.env.ALERTS_LATENCY_RUNS ?? 200);
/** A directory: the server side of each ingest measurement is CPU-profiled into it (bare, hook). */
const PROFILE_DIR = process.env.ALERTS_CPU_PROFILE;
/**
 * ALERTS_HOLD=1: no processing during the hook's load (it starts when the load ends), so the
 * figure is the intake's alone, as with the processing on other machines.
 */
const HOLD = process.env.ALERTS_HOLD === '1';
/** The interleaved ingest figure: this many pairs of segments of SEGMENT_MS, bare and hook. */
const SEGMENTS = Number(process.env.ALERTS_SEGMENTS ?? 6);
/** 3 s: in 1 s segments, each a fresh load-generator process, its start-up weighed too much. */
const SEGMENT_MS = Number(process.env.ALERTS_SEGMENT_MS ?? 3_000);

/** Runs fn under the V8 CPU profiler of this process (the app's), when PROFILE_DIR is set. */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!PROFILE_DIR) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

const RUNBOOK = `name: bench-diagnose
description: One line, on the Firebreak host, for each alert
kind: diagnostic
steps:
  - name: echo
    on: local
    run: echo diagnosed
triggers:
  - alert:
      match: { alertname: BenchLatency }
`;

@Controller()
class BareController {
  @Post('bare')
  @HttpCode(202)
  bare(@Body() body: { alerts?: unknown[] }) {
    return { delivery: '0', alerts: body.alerts?.length ?? 0 };
  }
}
@Module({ controllers: [BareController] })
class BareModule {}

interface Load {
  requests: number;
  non2xx: number;
  elapsedMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** The load generator's own CPU time, µs (it shares the 2 cores). */
  cpuUs: number;
}

/** A counter of the app's registry (no labels). */
async function counter(t: TestApp, name: string): Promise<number> {
  const m = t.app.get(MetricsService).registry.getSingleMetric(name);
  const { values } = (await m?.get()) ?? { values: [] };
  return values.reduce((sum, v) => sum + v.value, 0);
}

function load(url: string, auth: string, ms: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'alerts-load.ts'),
        url,
        auth,
        String(ms),
        String(CONNECTIONS),
        String(FINGERPRINTS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`load exited ${code}`)),
    );
  });
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1));
};

async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  ms = 120_000,
  everyMs = 5,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Every delivery processed? One index probe, every 100 ms: a `count(*)` every 5 ms had cost
 * Postgres 2 ms a time, a third of the processing's own statement time while it drained.
 */
const drained = (sql: <T>(q: string) => Promise<T[]>) =>
  until(
    async () => {
      const [r] = await sql<{ pending: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM alert_deliveries WHERE processed_at IS NULL) AS pending',
      );
      return !r.pending;
    },
    600_000,
    100,
  );

/** ALERTS_QUERIES=1: each statement's count and time on TypeORM's query runners while on. */
async function statementTimes() {
  const on = process.env.ALERTS_QUERIES === '1';
  const stats = new Map<string, { n: number; ms: number }>();
  if (!on) return { print: () => undefined };
  const { PostgresQueryRunner } = await import('typeorm/driver/postgres/PostgresQueryRunner.js');
  const proto = PostgresQueryRunner.prototype as unknown as {
    query: (q: string, ...rest: unknown[]) => Promise<unknown>;
  };
  const original = proto.query;
  proto.query = async function (this: unknown, q: string, ...rest: unknown[]) {
    const t0 = performance.now();
    try {
      return await original.call(this, q, ...rest);
    } finally {
      const k = q.replace(/\s+/g, ' ').slice(0, 100);
      const e = stats.get(k) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += performance.now() - t0;
      stats.set(k, e);
    }
  };
  return {
    print: () => {
      proto.query = original;
      console.log(
        'statements (count, total ms, mean ms):\n' +
          [...stats]
            .sort((a, b) => b[1].ms - a[1].ms)
            .slice(0, 25)
            .map(([k, v]) => `${v.n}\t${v.ms.toFixed(0)}\t${(v.ms / v.n).toFixed(2)}\t${k}`)
            .join('\n'),
      );
    },
  };
}

describe('alerts: ingest throughput and alert → diagnostic latency', () => {
  let t: TestApp;
  let bare: NestExpressApplication;
  let dir: string;
  const results: Record<string, unknown> = { at: new Date().toISOString() };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-alerts-'));
    writeFileSync(join(dir, 'bench-diagnose.yaml'), RUNBOOK);
    t = await startTestApp({ RUNBOOKS_DIR: dir, LOCAL_NODE: 'true' });
    bare = await NestFactory.create<NestExpressApplication>(BareModule, {
      logger: false,
      bodyParser: false,
    });
    bare.use(express.json({ limit: t.config.bodyLimitBytes, strict: true }));
    await bare.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await bare?.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    writeFileSync(
      join(import.meta.dirname, 'results', 'alerts.json'),
      JSON.stringify(results, null, 2) + '\n',
    );
  });

  const sql = <T>(q: string, p: unknown[] = []) => t.app.get(DataSource).query<T[]>(q, p);
  const base = (app: NestExpressApplication) =>
    `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const integration = async (name: string, autoRun: string[]) => {
    const res = await t
      .http()
      .post('/integrations')
      .set('Authorization', t.adminAuth)
      .send({
        name,
        type: 'alertmanager',
        autoRun,
        runLimit: { max: 10_000, windowSeconds: 600 },
        ingestLimit: { max: 10_000_000, windowSeconds: 300 },
      });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; url: string; secret: string };
  };

  it('ingest: stored and deduplicated, beside a bare NestJS POST route', async () => {
    const i = await integration('bench-ingest', []);
    const hook = `${base(t.app)}/hooks/alertmanager/${i.id}`;
    const auth = `Bearer ${i.secret}`;
    // Warm-up, unmeasured (JIT, connection pools).
    await load(`${base(bare)}/bare`, auth, 1_000);
    await load(hook, auth, 1_000);
    await drained(sql);
    // This process's CPU time (user + system) over each measurement: the server side's cost per
    // request, which a loaded machine distorts far less than req/s (during the hook's run it
    // includes the processor working through the deliveries in this same process). Postgres's
    // (the test cluster: nothing else uses it during the load) is on the same 2 cores, and so is
    // the load generator's.
    const [{ pid }] = await sql<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const postmaster = parentOf(pid);
    let cpu = process.cpuUsage();
    let pgCpu = postgresCpuUs(postmaster);
    const floor = await profiled('bare', () => load(`${base(bare)}/bare`, auth, SECONDS * 1000));
    const bareCpu = process.cpuUsage(cpu);
    const barePg = postgresCpuUs(postmaster) - pgCpu;
    const [{ before, lastId }] = await sql<{ before: number; lastId: string }>(
      'SELECT count(*)::int AS before, coalesce(max(id), 0)::text AS "lastId" FROM alert_deliveries',
    );
    const statements = await counter(t, 'firebreak_alert_intake_statements_total');
    cpu = process.cpuUsage();
    pgCpu = postgresCpuUs(postmaster);
    const processor = t.app.get(AlertProcessor);
    processor.testSeams.held = HOLD;
    const yielded = await counter(t, 'firebreak_alert_processing_yielded_seconds_total');
    // Halfway through the storm, one alert of a new group (a disk filling up while the storm
    // rages): how long from stored to processed (its incident opened), with the backlog ahead.
    const fresh = new Promise((resolve) => setTimeout(resolve, (SECONDS * 1000) / 2)).then(() =>
      t
        .http()
        .post(`/hooks/alertmanager/${i.id}`)
        .set('Authorization', auth)
        .send({
          version: '4',
          groupKey: '{}:{alertname="BenchFresh"}',
          truncatedAlerts: 0,
          status: 'firing',
          receiver: 'firebreak',
          groupLabels: { alertname: 'BenchFresh' },
          commonLabels: { alertname: 'BenchFresh' },
          commonAnnotations: {},
          externalURL: 'http://alertmanager.invalid',
          alerts: [
            {
              status: 'firing',
              labels: { alertname: 'BenchFresh', instance: 'bench-fresh' },
              annotations: {},
              startsAt: '2026-12-01T10:00:00Z',
              endsAt: '0001-01-01T00:00:00Z',
              generatorURL: '',
              fingerprint: 'bench-fresh',
            },
          ],
        }),
    );
    const ingest = await profiled('hook', () => load(hook, auth, SECONDS * 1000));
    expect((await fresh).status).toBe(202);
    const hookCpu = process.cpuUsage(cpu);
    const hookPg = postgresCpuUs(postmaster) - pgCpu;
    processor.testSeams.held = false;
    processor.kick();
    const loadEnded = performance.now();
    // What the processing did meanwhile: it yields to a saturated intake (alert-processor.ts).
    const [{ duringLoad }] = await sql<{ duringLoad: number }>(
      'SELECT count(*)::int AS "duringLoad" FROM alert_deliveries WHERE id > $1 AND processed_at IS NOT NULL',
      [lastId],
    );
    const yieldedSeconds = Number(
      ((await counter(t, 'firebreak_alert_processing_yielded_seconds_total')) - yielded).toFixed(1),
    );
    const perStatement = Number(
      (
        ingest.requests /
        ((await counter(t, 'firebreak_alert_intake_statements_total')) - statements)
      ).toFixed(1),
    );
    expect(ingest.non2xx).toBe(0);
    expect(floor.non2xx).toBe(0);
    const [{ stored }] = await sql<{ stored: number }>(
      'SELECT count(*)::int AS stored FROM alert_deliveries',
    );
    expect(stored - before).toBe(ingest.requests + 1); // and the new group's alert
    const times = await statementTimes();
    await profiled('drain', () => drained(sql));
    const drainedMs = Math.round(performance.now() - loadEnded);
    // The storm's first delivery: stored → processed (its incident opened), however long the rest took.
    const [{ firstMs }] = await sql<{ firstMs: number }>(
      `SELECT round(extract(epoch FROM processed_at - received_at) * 1000)::int AS "firstMs"
         FROM alert_deliveries WHERE id > $1 ORDER BY id LIMIT 1`,
      [lastId],
    );
    times.print();
    const [{ freshMs, freshBehind }] = await sql<{ freshMs: number; freshBehind: number }>(
      `SELECT round(extract(epoch FROM f.processed_at - f.received_at) * 1000)::int AS "freshMs",
              (SELECT count(*)::int FROM alert_deliveries o
                WHERE o.id > $1 AND o.id < f.id AND o.processed_at > f.processed_at) AS "freshBehind"
         FROM alert_deliveries f WHERE f.group_key = '{}:{alertname="BenchFresh"}' AND f.id > $1`,
      [lastId],
    );
    // The bare route again, now that the processing is done: the machine's speed drifts (other
    // tenants), so the hook's rate is set against the mean of the bare route's before and after.
    cpu = process.cpuUsage();
    const floorAfter = await load(`${base(bare)}/bare`, auth, SECONDS * 1000);
    const bareAfterCpu = process.cpuUsage(cpu);
    expect(floorAfter.non2xx).toBe(0);
    const [{ alerts }] = await sql<{ alerts: number }>(
      'SELECT count(*)::int AS alerts FROM alerts WHERE integration_id = $1',
      [i.id],
    );
    // Deduplicated: one row per fingerprint ever sent, however many times (and the new group's).
    expect(alerts).toBeLessThanOrEqual(FINGERPRINTS + 1);
    const bareRps = (floor.rps + floorAfter.rps) / 2;
    const ratio = Number((ingest.rps / bareRps).toFixed(2));
    const perRequest = (u: NodeJS.CpuUsage, n: number) => Math.round((u.user + u.system) / n);
    const cpuUs = {
      bare: Math.round(
        (bareCpu.user + bareCpu.system + bareAfterCpu.user + bareAfterCpu.system) /
          (floor.requests + floorAfter.requests),
      ),
      firebreak: perRequest(hookCpu, ingest.requests),
    };
    const perReq = (us: number, n: number) => Math.round(us / n);
    const postgresUs = {
      bare: perReq(barePg, floor.requests),
      firebreak: perReq(hookPg, ingest.requests),
    };
    const loaderUs = {
      bare: perReq(floor.cpuUs, floor.requests),
      firebreak: perReq(ingest.cpuUs, ingest.requests),
    };
    const cpuRatio = Number((cpuUs.bare / cpuUs.firebreak).toFixed(2));
    // Processing rate: the deliveries stored under the load over the time from its start (its
    // end when held) until the last was processed.
    const processedPerSecond = Math.round(
      ingest.requests / (((HOLD ? 0 : ingest.elapsedMs) + drainedMs) / 1000),
    );
    results.ingest = {
      seconds: SECONDS,
      processingDuringLoad: !HOLD,
      connections: CONNECTIONS,
      fingerprints: FINGERPRINTS,
      firebreak: ingest,
      bare: floor,
      bareAfter: floorAfter,
      ratio,
      serverCpuUsPerRequest: cpuUs,
      cpuRatio,
      postgresCpuUsPerRequest: postgresUs,
      loadCpuUsPerRequest: loaderUs,
      deliveriesPerStatement: perStatement,
      processedAfterLoadMs: drainedMs,
      processedPerSecond,
      processedDuringLoad: duringLoad,
      processingYieldedSeconds: yieldedSeconds,
      firstDeliveryProcessedMs: firstMs,
      newGroupMidStorm: { processedMs: freshMs, olderStillPendingThen: freshBehind },
      alertRows: alerts,
    };
    console.log(
      `ingest${HOLD ? ' (processing held during the load)' : ''}: Firebreak ${ingest.rps} req/s (p50 ${ingest.p50Ms} ms, p99 ${ingest.p99Ms} ms), bare NestJS ${floor.rps} req/s before and ${floorAfter.rps} after: ${ratio}× their mean; ${duringLoad} deliveries processed during the load (processing paused ${yieldedSeconds} s of it), the first ${firstMs} ms after it was stored, a new group's alert sent halfway ${freshMs} ms after it was stored (${freshBehind} older ones processed after it), all ${ingest.requests} ${drainedMs} ms after the load (${processedPerSecond} deliveries/s processed); ${alerts} alert rows; server CPU per request ${cpuUs.firebreak} µs against ${cpuUs.bare} µs bare: ${cpuRatio}×; Postgres CPU per request ${postgresUs.firebreak} µs (bare ${postgresUs.bare}); load generator ${loaderUs.firebreak} µs (bare ${loaderUs.bare}); ${perStatement} deliveries per intake statement`,
    );
  });

  /**
   * Bare and hook segments in the order bare, hook, hook, bare, … so that a drift of the
   * machine's speed weighs on both alike. `held`: the processing held throughout (the deliveries
   * are processed after): the intake's own cost. Else each hook segment is a storm of its own
   * with the processing in this process as always (it yields to the saturated intake), and its
   * deliveries are all processed before the next segment, so every bare segment runs beside an
   * idle processor and every hook segment starts from none pending.
   */
  const interleaved = async (name: string, held: boolean) => {
    const i = await integration(name, []);
    const hook = `${base(t.app)}/hooks/alertmanager/${i.id}`;
    const bareUrl = `${base(bare)}/bare`;
    const auth = `Bearer ${i.secret}`;
    await load(bareUrl, auth, 1_000);
    await load(hook, auth, 1_000);
    await drained(sql);
    const [{ before }] = await sql<{ before: number }>(
      'SELECT count(*)::int AS before FROM alert_deliveries',
    );
    const processor = t.app.get(AlertProcessor);
    processor.testSeams.held = held;
    const pairs: Array<{ bare: Load; hook: Load }> = [];
    let processedDuring = 0;
    try {
      for (let k = 0; k < SEGMENTS; k++) {
        const pair: Partial<{ bare: Load; hook: Load }> = {};
        for (const which of k % 2 ? (['hook', 'bare'] as const) : (['bare', 'hook'] as const)) {
          const [{ lastId }] = await sql<{ lastId: string }>(
            'SELECT coalesce(max(id), 0)::text AS "lastId" FROM alert_deliveries',
          );
          pair[which] = await load(which === 'bare' ? bareUrl : hook, auth, SEGMENT_MS);
          if (which === 'bare' || held) continue;
          const [{ n }] = await sql<{ n: number }>(
            'SELECT count(*)::int AS n FROM alert_deliveries WHERE id > $1 AND processed_at IS NOT NULL',
            [lastId],
          );
          processedDuring += n;
          await drained(sql);
        }
        pairs.push(pair as { bare: Load; hook: Load });
      }
    } finally {
      processor.testSeams.held = false;
      processor.kick();
    }
    for (const p of pairs) expect(p.bare.non2xx + p.hook.non2xx).toBe(0);
    const total = (which: 'bare' | 'hook') => {
      const requests = pairs.reduce((n, p) => n + p[which].requests, 0);
      const ms = pairs.reduce((n, p) => n + p[which].elapsedMs, 0);
      return { requests, rps: Math.round((requests / ms) * 1000) };
    };
    const [bareTotal, hookTotal] = [total('bare'), total('hook')];
    const [{ stored }] = await sql<{ stored: number }>(
      'SELECT count(*)::int AS stored FROM alert_deliveries',
    );
    expect(stored - before).toBe(hookTotal.requests);
    await drained(sql);
    const [{ alerts }] = await sql<{ alerts: number }>(
      'SELECT count(*)::int AS alerts FROM alerts WHERE integration_id = $1',
      [i.id],
    );
    expect(alerts).toBeLessThanOrEqual(FINGERPRINTS);
    const ratios = pairs.map((p) => p.hook.rps / p.bare.rps).sort((a, b) => a - b);
    const round2 = (x: number) => Number(x.toFixed(2));
    return {
      segments: SEGMENTS,
      segmentMs: SEGMENT_MS,
      connections: CONNECTIONS,
      bare: bareTotal,
      firebreak: hookTotal,
      ratio: round2(hookTotal.rps / bareTotal.rps),
      pairRatios: {
        min: round2(ratios[0]),
        median: round2(ratios[Math.floor(ratios.length / 2)]),
        max: round2(ratios[ratios.length - 1]),
      },
      ...(held ? {} : { processedDuringSegments: processedDuring }),
      alertRows: alerts,
    };
  };

  it('ingest, interleaved: the intake alone against the bare route, in alternating segments', async () => {
    results.interleaved = await interleaved('bench-interleaved', true);
    console.log(`ingest, interleaved (processing held): ${JSON.stringify(results.interleaved)}`);
  });

  it('ingest, interleaved with the processing on: each hook segment a storm of its own', async () => {
    results.interleavedProcessing = await interleaved('bench-interleaved-on', false);
    console.log(
      `ingest, interleaved (processing on): ${JSON.stringify(results.interleavedProcessing)}`,
    );
  });

  it('processing: Alertmanager groups of 100 alerts', async () => {
    const i = await integration('bench-groups', []);
    const hook = `/hooks/alertmanager/${i.id}`;
    const DELIVERIES = Number(process.env.ALERTS_GROUP_DELIVERIES ?? 30);
    // One group of 100 alerts: new in the first delivery, then repeats (deduplicated), every
    // third one resolving the odd ones and the next firing them again (status changes).
    const body = (n: number) => ({
      version: '4',
      groupKey: '{}:{alertname="BenchGroup"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'firebreak',
      groupLabels: { alertname: 'BenchGroup' },
      commonLabels: { alertname: 'BenchGroup' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.invalid',
      alerts: Array.from({ length: 100 }, (_, k) => {
        const resolved = n % 3 === 2 && k % 2 === 1;
        return {
          status: resolved ? 'resolved' : 'firing',
          labels: { alertname: 'BenchGroup', instance: `group-${k}`, severity: 'warning' },
          annotations: { summary: `group alert ${k}` },
          startsAt: '2026-12-01T10:00:00Z',
          endsAt: resolved ? '2026-12-01T10:05:00Z' : '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus.invalid/graph',
          fingerprint: `group-${k}`,
        };
      }),
    });
    const t0 = performance.now();
    for (let n = 0; n < DELIVERIES; n++) {
      const res = await t
        .http()
        .post(hook)
        .set('Authorization', `Bearer ${i.secret}`)
        .send(body(n));
      expect(res.status).toBe(202);
    }
    await until(async () => {
      const [r] = await sql<{ n: number }>(
        'SELECT count(*)::int AS n FROM alert_deliveries WHERE integration_id = $1 AND processed_at IS NULL',
        [i.id],
      );
      return r.n === 0;
    }, 600_000);
    const ms = performance.now() - t0;
    const [{ alerts }] = await sql<{ alerts: number }>(
      'SELECT count(*)::int AS alerts FROM alerts WHERE integration_id = $1',
      [i.id],
    );
    expect(alerts).toBe(100);
    const alertsPerSecond = Math.round((DELIVERIES * 100) / (ms / 1000));
    results.groups = {
      deliveries: DELIVERIES,
      alertsPerDelivery: 100,
      ms: Math.round(ms),
      alertsPerSecond,
    };
    console.log(
      `processing: ${DELIVERIES} deliveries of one group of 100 alerts, stored and processed in ${Math.round(ms)} ms: ${alertsPerSecond} alerts/s`,
    );
  });

  it('alert → diagnostic running, → first output line', async () => {
    const i = await integration('bench-latency', ['bench-diagnose']);
    const hook = `/hooks/alertmanager/${i.id}`;
    const running: number[] = [];
    const output: number[] = [];
    const answered: number[] = [];
    for (let n = 0; n < LATENCY_RUNS + 10; n++) {
      const body = {
        version: '4',
        groupKey: `{}:{alertname="BenchLatency",n="${n}"}`,
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'firebreak',
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager.invalid',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'BenchLatency', n: String(n) },
            annotations: {},
            startsAt: new Date().toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: '',
            fingerprint: `lat-${n}`,
          },
        ],
      };
      const t0 = Date.now();
      const res = await t.http().post(hook).set('Authorization', `Bearer ${i.secret}`).send(body);
      const t1 = Date.now();
      expect(res.status).toBe(202);
      const row = await until(async () => {
        const [r] = await sql<{ started: Date | null; line: Date | null }>(
          `SELECT e.started_at AS started,
                  (SELECT l.at FROM execution_logs l WHERE l.execution_id = e.id
                     AND l.stream = 'stdout' ORDER BY l.seq LIMIT 1) AS line
             FROM alerts a JOIN incidents i ON i.id = a.incident_id
             JOIN executions e ON e.incident_id IN ('INC-' || i.number, i.id::text)
            WHERE a.integration_id = $1 AND a.fingerprint = $2`,
          [i.id, `lat-${n}`],
        );
        return r?.started && r.line ? r : undefined;
      });
      if (n < 10) continue;
      answered.push(t1 - t0);
      running.push(new Date(row.started!).getTime() - t0);
      output.push(new Date(row.line!).getTime() - t0);
    }
    const stats = (xs: number[]) => ({
      p50: percentile(xs, 0.5),
      p95: percentile(xs, 0.95),
      p99: percentile(xs, 0.99),
    });
    results.latency = {
      runs: LATENCY_RUNS,
      answeredMs: stats(answered),
      runningMs: stats(running),
      firstLineMs: stats(output),
    };
    console.log(`alert → diagnostic (ms): ${JSON.stringify(results.latency)}`);
  });
});
