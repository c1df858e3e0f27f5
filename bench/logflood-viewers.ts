// Child process of bench/logflood (run by Node 24 itself, which strips the types): VIEWERS lean SSE viewers of one execution, apart from the
// worker so its RSS and CPU are its own. Counts stdout log events and, per chunk, the lag of the
// oldest event in it (the chunk's worst): now − the line's `at`. Prints one JSON line at the end.
// FORMAT: `batch` (one `logs` event per page, what the CLI reads) or `line` (one `log` event per line).
// Started before the run: prints `ready`, then reads the execution id from stdin and connects at
// once, so the viewers are attached from the run's start (Node's own start-up is not a lag).
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const [port, auth, count, format = 'batch'] = process.argv.slice(2);

interface Seen {
  lines: number;
  maxLagMs: number;
  /** When the worst lag was seen, ms after this viewer's stream opened. */
  maxLagAtMs: number;
  /** ms from getting the id to the stream's headers. */
  connectMs: number;
  ended: boolean;
}

function view(id: string): Promise<Seen> {
  const v: Seen = { lines: 0, maxLagMs: 0, maxLagAtMs: 0, connectMs: 0, ended: false };
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
        res.setEncoding('utf8');
        let tail = '';
        res.on('data', (chunk: string) => {
          const now = Date.now();
          const text = tail + chunk;
          const cut = text.lastIndexOf('\n\n');
          if (cut === -1) {
            tail = text;
            return;
          }
          const whole = text.slice(0, cut);
          tail = text.slice(cut + 2);
          const at = whole.indexOf('"at":"');
          if (at !== -1) {
            const lag = now - Date.parse(whole.slice(at + 6, at + 30));
            if (lag > v.maxLagMs) {
              v.maxLagMs = lag;
              v.maxLagAtMs = now - opened;
            }
          }
          for (
            let i = whole.indexOf('"stream":"stdout"');
            i !== -1;
            i = whole.indexOf('"stream":"stdout"', i + 17)
          )
            v.lines++;
          if (whole.includes('event: end')) {
            v.ended = true;
            req.destroy();
            resolve(v);
          }
        });
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
const viewers = await Promise.all(Array.from({ length: Number(count) }, () => view(id.trim())));
process.stdout.write(JSON.stringify(viewers) + '\n');
