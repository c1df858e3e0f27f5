// Child process of bench/logflood (run by Node 24 itself, which strips the types): VIEWERS lean
// SSE viewers of one execution, apart from the worker so its RSS and CPU are its own. Counts
// stdout lines and, per read, the lag of the oldest line in it: now − the line's `at`. Prints one
// JSON line at the end (the viewers, and this process's CPU, event-loop delay and GC).
// FORMAT: `compact` (one `logs` event per page in columns, what the CLI reads: the runs are
// parsed, their seqs checked to follow on, the texts received and not decoded), `batch` (one
// `logs` event per page, v1) or `line` (one `log` event per line): both scanned for
// `"stream":"stdout"`. Bytes, not strings: nothing is decoded but a compact page's runs.
// Started before the run: prints `ready`, then reads the execution id from stdin and connects at
// once, so the viewers are attached from the run's start (Node's own start-up is not a lag).
import { request } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const [port, auth, count, format = 'compact'] = process.argv.slice(2);

interface Seen {
  lines: number;
  maxLagMs: number;
  /** When the worst lag was seen, ms after this viewer's stream opened. */
  maxLagAtMs: number;
  /** ms from getting the id to the stream's headers. */
  connectMs: number;
  ended: boolean;
  /** Worst lag per TRACE_BUCKET_MS after the ids arrived (index = bucket). */
  lagByBucket: number[];
  /** stdout lines received per bucket. */
  linesByBucket: number[];
  /** Longest wait between two reads of the stream (ms), and when it ended (ms after open). */
  maxGapMs: number;
  maxGapAtMs: number;
}

/** Width of the lag timeline's buckets, ms after the execution id arrived. */
const TRACE_BUCKET_MS = 500;
let attachedAt = 0;
/** The longest a 'data' handler ran (ms): this process's own work per read. */
let maxHandlerMs = 0;
const SEP = Buffer.from('\n\n');
const AT = Buffer.from('"at":"');
const STDOUT = Buffer.from('"stream":"stdout"');
const END = Buffer.from('event: end');
const DATA = Buffer.from('\ndata: ');
const LINES_KEY = Buffer.from('],"lines":[');

function view(id: string): Promise<Seen> {
  const v: Seen = {
    lines: 0,
    maxLagMs: 0,
    maxLagAtMs: 0,
    connectMs: 0,
    ended: false,
    lagByBucket: [],
    linesByBucket: [],
    maxGapMs: 0,
    maxGapAtMs: 0,
  };
  let lastData = 0;
  /** The last seq received (compact format: checked to follow on). */
  let seq = 0;
  const asked = Date.now();
  let opened = 0;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path: `/executions/${id}/stream?format=${format}`,
        headers: { authorization: auth, accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`));
        opened = Date.now();
        v.connectMs = opened - asked;
        // Bytes, not strings: no UTF-8 decoding, and each byte copied at most once (an event
        // cut across reads is joined once, when its end arrives).
        let pending: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          const h0 = performance.now();
          onData(chunk);
          maxHandlerMs = Math.max(maxHandlerMs, performance.now() - h0);
        });
        const onData = (chunk: Buffer) => {
          const now = Date.now();
          if (lastData && now - lastData > v.maxGapMs) {
            v.maxGapMs = now - lastData;
            v.maxGapAtMs = now - opened;
          }
          lastData = now;
          let cut = chunk.lastIndexOf(SEP);
          let start = cut + 2;
          if (cut === -1 && chunk[0] === 0x0a && pending.at(-1)?.at(-1) === 0x0a) {
            // The "\n\n" between two reads.
            cut = 0;
            start = 1;
          }
          if (cut === -1) {
            pending.push(chunk);
            return;
          }
          const head = chunk.subarray(0, cut);
          const whole = pending.length ? Buffer.concat([...pending, head]) : head;
          pending = start < chunk.length ? [chunk.subarray(start)] : [];
          const bucket = Math.floor((now - attachedAt) / TRACE_BUCKET_MS);
          // The oldest line of these events (the first), and how many stdout lines they hold.
          let first: string | undefined;
          let n = 0;
          if (format === 'compact') {
            // Only the runs [seq, n, at, node, step, stream] are parsed (lean, like the scans
            // below: the texts are received, not decoded); their seqs must follow on from the
            // last page's, so no line is missing or repeated.
            for (let d = whole.indexOf(DATA); d !== -1; d = whole.indexOf(DATA, d + 1)) {
              const start = d + DATA.length;
              const cut = whole.indexOf(LINES_KEY, start);
              if (cut === -1) continue; // not a page (the end event)
              const { runs } = JSON.parse(`${whole.toString('utf8', start, cut + 1)}}`) as {
                runs: Array<[number, number, string, string | null, string | null, string]>;
              };
              first ??= runs[0]?.[2];
              for (const r of runs) {
                if (r[0] !== seq + 1) throw new Error(`seq ${r[0]} after ${seq}`);
                seq = r[0] + r[1] - 1;
                if (r[5] === 'stdout') n += r[1];
              }
            }
          } else {
            const at = whole.indexOf(AT);
            if (at !== -1) first = whole.toString('latin1', at + 6, at + 30);
            for (
              let i = whole.indexOf(STDOUT);
              i !== -1;
              i = whole.indexOf(STDOUT, i + STDOUT.length)
            )
              n++;
          }
          if (first !== undefined) {
            const lag = now - Date.parse(first);
            if (lag > v.maxLagMs) {
              v.maxLagMs = lag;
              v.maxLagAtMs = now - opened;
            }
            if (lag > (v.lagByBucket[bucket] ?? 0)) v.lagByBucket[bucket] = lag;
          }
          v.lines += n;
          v.linesByBucket[bucket] = (v.linesByBucket[bucket] ?? 0) + n;
          if (whole.includes(END)) {
            v.ended = true;
            req.destroy();
            resolve(v);
          }
        };
        res.on('end', () => resolve(v));
        res.on('error', (e: Error) => (v.ended ? resolve(v) : reject(e)));
      },
    );
    req.on('error', (e: Error) => (v.ended ? resolve(v) : reject(e)));
    req.end();
  });
}

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
const id = await new Promise<string>((resolve) => lines.once('line', resolve));
lines.close();
attachedAt = Date.now();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let gcMaxMs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, e.duration);
});
gcs.observe({ entryTypes: ['gc'] });
const cpu0 = process.cpuUsage();
const viewers = await Promise.all(Array.from({ length: Number(count) }, () => view(id.trim())));
const cpu = process.cpuUsage(cpu0);
delay.disable();
// The last line: the viewers, then this process's own figures (its CPU, its event loop's worst
// delay: a busy viewer process reads late, and its lag is then its own).
process.stdout.write(
  JSON.stringify({
    viewers,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    systemCpuMs: Math.round(cpu.system / 1000),
    maxLoopDelayMs: Math.round(delay.max / 1e6),
    gcMaxMs: Math.round(gcMaxMs),
    maxHandlerMs: Math.round(maxHandlerMs),
    bucketMs: TRACE_BUCKET_MS,
  }) + '\n',
);
