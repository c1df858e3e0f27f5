import type { CompactPage, LogEvent } from '../executions/log-stream.js';

/** One server-sent event. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Parses an event stream incrementally (`id:`, `event:`, `data:` fields; blank line ends one). */
export class SseParser {
  private buffer = '';
  private current: Partial<SseEvent> & { data?: string } = {};

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') {
        if (this.current.data !== undefined)
          out.push({
            event: this.current.event ?? 'message',
            data: this.current.data,
            ...(this.current.id ? { id: this.current.id } : {}),
          });
        this.current = {};
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data')
        this.current.data =
          this.current.data === undefined ? value : `${this.current.data}\n${value}`;
      else if (field === 'event') this.current.event = value;
      else if (field === 'id') this.current.id = value;
    }
    return out;
  }
}

/**
 * The lines of one `logs` event: v1 (`format=batch`) lists them; v2 (`format=compact`) has runs
 * `[seq, n, at, node, step, stream]` of n lines with seqs seq … seq + n − 1 sharing those fields,
 * and every line's text in `lines`, run after run.
 */
export function pageLines(data: { v: 1; lines: LogEvent[] } | CompactPage): LogEvent[] {
  if (data.v !== 2) return data.lines;
  const out: LogEvent[] = [];
  let i = 0;
  for (const [seq, n, at, node, step, stream] of data.runs)
    for (let k = 0; k < n; k++)
      out.push({ seq: seq + k, at, node, step, stream, line: data.lines[i++] });
  return out;
}

/**
 * Follows an execution's live output, reconnecting with Last-Event-ID after a dropped
 * connection, until the `end` event. Returns the final status.
 */
export async function followExecution(
  baseUrl: string,
  token: string,
  id: string,
  onLine: (e: {
    seq: number;
    node: string | null;
    step: string | null;
    stream: string;
    line: string;
  }) => void,
): Promise<string> {
  let lastId: string | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const res = await fetch(`${baseUrl}/executions/${id}/stream?format=compact`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          ...(lastId ? { 'last-event-id': lastId } : {}),
        },
      });
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (ev.id) lastId = ev.id;
          // `logs`: a page of lines in one event (format=compact, v2; v1 from format=batch);
          // `log`: one line.
          if (ev.event === 'logs') for (const l of pageLines(JSON.parse(ev.data))) onLine(l);
          if (ev.event === 'log') onLine(JSON.parse(ev.data) as Parameters<typeof onLine>[0]);
          if (ev.event === 'end') return (JSON.parse(ev.data) as { status: string }).status;
        }
      }
    } catch (err) {
      if (attempt === 19) throw err;
    }
    await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
  }
  throw new Error('stream ended without a final status');
}
