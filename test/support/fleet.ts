import { isFinal, type ExecutionStatus } from '../../src/executions/execution-state.js';
import type { TestApp } from './app.js';
import type { SshServer } from './sshd.js';

/**
 * Registers `count` nodes that all point at one real sshd (different names, same host), with a
 * credential holding the harness's throwaway key and the host key pinned, through the API.
 */
export async function registerFleet(
  t: TestApp,
  sshd: SshServer,
  names: string[],
  opts: { attributes?: Record<string, string>; credential?: string; tags?: string[] } = {},
): Promise<void> {
  const credential = opts.credential ?? 'fleet-key';
  const existing = await t.http().get('/credentials').set('Authorization', t.adminAuth);
  if (!(existing.body as Array<{ name: string }>).some((c) => c.name === credential)) {
    const c = await t.http().post('/credentials').set('Authorization', t.adminAuth).send({
      name: credential,
      type: 'ssh-key',
      username: sshd.username,
      privateKey: sshd.privateKey,
    });
    if (c.status !== 201) throw new Error(`credential: ${c.status} ${JSON.stringify(c.body)}`);
  }
  for (const name of names) {
    const res = await t
      .http()
      .post('/nodes')
      .set('Authorization', t.adminAuth)
      .send({
        name,
        hostname: sshd.host,
        port: sshd.port,
        user: sshd.username,
        credential,
        hostKey: sshd.hostKeyFingerprint,
        tags: opts.tags ?? ['linux'],
        attributes: opts.attributes ?? { environment: 'staging' },
      });
    if (res.status !== 201)
      throw new Error(`node ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Waits for an execution to reach a final status and returns it. */
export async function waitFinished(t: TestApp, id: string, auth = t.adminAuth, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.http().get(`/executions/${id}`).set('Authorization', auth);
    if (isFinal(res.body.status as ExecutionStatus)) {
      return res.body as {
        status: string;
        error: string | null;
        results: Array<Record<string, unknown>>;
      };
    }
    if (Date.now() > deadline)
      throw new Error(`execution ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/**
 * Reads an SSE response body into events until an `end` event, `stopAfter` events, `until`
 * says so (given the events so far), or the stream ends; with `until`, a stream that ends before
 * it says so is an error.
 */
export async function readSse(
  url: string,
  auth: string,
  opts: {
    lastEventId?: string;
    stopAfter?: number;
    until?: (events: SseEvent[]) => boolean;
  } = {},
): Promise<SseEvent[]> {
  const ctrl = new AbortController();
  const res = await fetch(url, {
    headers: {
      authorization: auth,
      accept: 'text/event-stream',
      ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}),
    },
    signal: ctrl.signal,
  });
  if (res.status !== 200) throw new Error(`stream: ${res.status} ${await res.text()}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let idx: number;
      while ((idx = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const ev: SseEvent = { event: 'message', data: undefined };
        for (const line of block.split('\n')) {
          if (line.startsWith('id:')) ev.id = line.slice(3).trim();
          else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
          else if (line.startsWith('data:')) ev.data = JSON.parse(line.slice(5).trim());
        }
        if (ev.data === undefined) continue;
        events.push(ev);
        if (
          ev.event === 'end' ||
          (opts.stopAfter && events.length >= opts.stopAfter) ||
          opts.until?.(events)
        ) {
          ctrl.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (!ctrl.signal.aborted) throw err;
  }
  if (opts.until && !ctrl.signal.aborted)
    throw new Error(`stream ended after ${events.length} events without reaching its end`);
  return events;
}
