// Child process of bench/alerts (run by Node 24 itself, which strips the types): POSTs
// Alertmanager webhook v4 payloads to one URL over an undici Pool of CONNECTIONS keep-alive
// connections, CONNECTIONS requests in flight, for MS milliseconds. Two alerts per payload;
// fingerprints cycle over FINGERPRINTS, so the first requests bring new alerts and the later ones
// repeats (deduplicated). Prints one JSON line: requests, non-2xx answers, elapsed ms, req/s,
// latency p50/p99, and its own CPU time (µs, user + system).
import { Pool } from 'undici';

const [url, auth, ms, connections, fingerprints] = process.argv.slice(2);
const target = new URL(url);
const pool = new Pool(target.origin, { connections: Number(connections), pipelining: 1 });
const FPS = Number(fingerprints);

const body = (i: number) => {
  const alerts = [0, 1].map((k) => {
    const n = (i * 2 + k) % FPS;
    return {
      status: 'firing',
      labels: { alertname: `BenchAlert${n % 20}`, instance: `bench-${n}`, severity: 'warning' },
      annotations: { summary: `bench alert ${n}` },
      startsAt: '2026-12-01T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.invalid/graph',
      fingerprint: `fp-${n.toString(16).padStart(12, '0')}`,
    };
  });
  const name = alerts[0].labels.alertname;
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="${name}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'firebreak',
    groupLabels: { alertname: name },
    commonLabels: { alertname: name, severity: 'warning' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts,
  });
};

let next = 0;
let non2xx = 0;
const latencies: number[] = [];
const deadline = performance.now() + Number(ms);
const t0 = performance.now();

async function worker() {
  while (performance.now() < deadline) {
    const i = next++;
    const start = performance.now();
    const res = await pool.request({
      method: 'POST',
      path: target.pathname,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body(i),
    });
    await res.body.dump();
    latencies.push(performance.now() - start);
    if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
  }
}

await Promise.all(Array.from({ length: Number(connections) }, worker));
const elapsed = performance.now() - t0;
const cpu = process.cpuUsage();
await pool.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
process.stdout.write(
  JSON.stringify({
    requests: latencies.length,
    non2xx,
    elapsedMs: Math.round(elapsed),
    rps: Math.round((latencies.length / elapsed) * 1000),
    p50Ms: Number(pct(0.5).toFixed(1)),
    p99Ms: Number(pct(0.99).toFixed(1)),
    cpuUs: cpu.user + cpu.system,
  }) + '\n',
);
