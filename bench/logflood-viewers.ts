// Child process of bench/logflood (run by Node 24 itself, which strips the types): VIEWERS lean SSE viewers of one execution, apart from the
// worker so its RSS and CPU are its own. Counts stdout log events and, per chunk, the lag of the
// oldest event in it (the chunk's worst): now − the line's `at`. Prints one JSON line at the end.
// FORMAT: `batch` (one `logs` event per page, what the CLI reads) or `line` (one `log` event per line).
import { request } from 'node:http';

const [port, id, auth, count, format = 'batch'] = process.argv.slice(2);

interface Seen {
  lines: number;
  maxLagMs: number;
  ended: boolean;
}

function view(): Promise<Seen> {
  const v: Seen = { lines: 0, maxLagMs: 0, ended: false };
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
          if (at !== -1)
            v.maxLagMs = Math.max(v.maxLagMs, now - Date.parse(whole.slice(at + 6, at + 30)));
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

const viewers = await Promise.all(Array.from({ length: Number(count) }, view));
process.stdout.write(JSON.stringify(viewers) + '\n');
