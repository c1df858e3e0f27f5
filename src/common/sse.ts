import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';

export interface SseMessage {
  id?: string;
  type: string;
  data: unknown;
}

/** Below this much unread output the source may read on. */
const READY_BYTES = 1024 * 1024;
/** A viewer whose unread output passes this is dropped (it resumes with Last-Event-ID). */
export const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

const texts = new WeakMap<object, string>();

/** `event:`/`id:`/`data:` lines of one message; built once per message object. */
export function sseText(m: SseMessage): string {
  let text = texts.get(m);
  if (text === undefined) {
    const clean = (v: string) => v.replace(/[\r\n]/g, '');
    text =
      `event: ${clean(m.type)}\n` +
      (m.id !== undefined ? `id: ${clean(m.id)}\n` : '') +
      // JSON has no raw line breaks: one data line.
      `data: ${typeof m.data === 'string' ? clean(m.data) : JSON.stringify(m.data)}\n\n`;
    texts.set(m, text);
  }
  return text;
}

/**
 * Sends `events` as server-sent events, writing what arrives in one turn of the event loop as
 * one chunk (a page of log lines is one write, not thousands), each message serialised once
 * however many viewers get it. Flow control: `events` gets `ready`, which resolves once the
 * client has read all but READY_BYTES; a source that awaits it before each read keeps a slow
 * viewer's buffer small. Whatever is sent anyway, a viewer with more than MAX_UNREAD_BYTES
 * unread is dropped, so a stalled client cannot grow the server's memory; its EventSource
 * resumes from its Last-Event-ID. Same wire format as Nest's @Sse.
 */
export function sendSse(
  req: Request,
  res: Response,
  events: (ready: () => Promise<void>) => Observable<SseMessage>,
): void {
  req.socket.setKeepAlive(true);
  req.socket.setNoDelay(true);
  req.socket.setTimeout(0);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    Connection: 'keep-alive',
    'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
    Pragma: 'no-cache',
    Expires: '0',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.write('\n');
  let pending: string[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    if (pending.length === 0 || res.writableEnded) return;
    const chunk = pending.join('');
    pending = [];
    res.write(chunk);
    if (res.writableLength > MAX_UNREAD_BYTES) {
      subscription.unsubscribe();
      res.end();
    }
  };
  const end = () => {
    clearImmediate(scheduled);
    flush();
    if (!res.writableEnded) res.end();
  };
  // The source reads its next page only once the client has taken most of the last one.
  const ready = () =>
    res.writableLength < READY_BYTES || res.writableEnded
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
  const subscription = events(ready).subscribe({
    next: (m) => {
      pending.push(sseText(m));
      scheduled ??= setImmediate(flush);
    },
    error: end,
    complete: end,
  });
  res.on('close', () => {
    clearImmediate(scheduled);
    subscription.unsubscribe();
  });
}
