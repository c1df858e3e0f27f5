// Child process of bench/fanout's dispatch measurement (run by Node 24 itself, which strips the
// types): the client, apart from the service, as `firebreak run --follow` is. For each of RUNS
// runs: POST /executions {runbook}, then GET /executions/:id/stream (SSE) until its first stdout
// line, then the stream's end (so runs do not overlap). Keep-alive connections, as the CLI's.
// Prints one JSON line: per run, ms after the POST was sent (wall clock, Date.now()) of the
// answer, the stream's headers and the line (performance.now()), with the line's own fields and
// the POST's wall-clock time (to place the service's own timestamps).
import { Agent, request } from 'node:http';

const [port, auth, runbook, runs] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One run, as the bench reads it. */
export interface Sample {
  id: string;
  postAt: number;
  answeredMs: number;
  openedMs: number;
  onStreamMs: number;
  line: string;
  at: string;
  firstAt: string;
}

function post(): Promise<{ status: number; body: { id: string } }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ runbook });
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path: '/executions',
        method: 'POST',
        agent,
        headers: {
          authorization: auth,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function follow(
  id: string,
  t0: number,
): Promise<{ openedMs: number; onStreamMs: number; line: string; at: string; firstAt: string }> {
  return new Promise((resolve, reject) => {
    let openedMs = 0;
    let found: { onStreamMs: number; line: string; at: string; firstAt: string } | undefined;
    let firstAt: string | undefined;
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path: `/executions/${id}/stream`,
        agent,
        headers: { authorization: auth, accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`));
        openedMs = performance.now() - t0;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const now = performance.now();
          buffer += chunk;
          let idx: number;
          while ((idx = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, idx);
            buffer = buffer.slice(idx + 2);
            if (/^event: ?end$/m.test(block)) {
              req.destroy();
              if (!found) return reject(new Error('stream ended without an output line'));
              return resolve({ openedMs, ...found });
            }
            const data = /^data:(.*)$/m.exec(block)?.[1];
            if (!/^event: ?log$/m.test(block) || data === undefined) continue;
            const event = JSON.parse(data) as { stream: string; line: string; at: string };
            firstAt ??= event.at;
            if (event.stream === 'stdout' && !found)
              found = { onStreamMs: now - t0, line: event.line, at: event.at, firstAt };
          }
        });
        res.on('error', (e: Error) => reject(e));
      },
    );
    req.on('error', (e: Error) => reject(e));
    req.end();
  });
}

const samples: Sample[] = [];
for (let i = 0; i < Number(runs); i++) {
  const postAt = Date.now();
  const t0 = performance.now();
  const res = await post();
  if (res.status !== 201)
    throw new Error(`POST /executions: ${res.status} ${JSON.stringify(res.body)}`);
  const answeredMs = performance.now() - t0;
  const s = await follow(res.body.id, t0);
  samples.push({ id: res.body.id, postAt, answeredMs, ...s });
}
agent.destroy();
process.stdout.write(JSON.stringify(samples) + '\n');
