import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the stand-in received, as sent. */
export interface SlackApiCall {
  /** `chat.postMessage`, `chat.update`, `users.info`, or `response_url`. */
  method: string;
  path: string;
  at: number;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
  /** The HTTP status the stand-in answered. */
  status: number;
}

export interface SlackUser {
  id: string;
  teamId: string;
  name: string;
  email?: string;
  emailConfirmed?: boolean;
}

export interface SlackApiStandIn {
  /** Base URL of the Web API, for SLACK_API_URL. */
  apiUrl: string;
  /** The origin, for SLACK_RESPONSE_URL_HOSTS. */
  origin: string;
  token: string;
  calls: SlackApiCall[];
  /** A fresh response_url (each slash command gets its own, as from Slack). */
  responseUrl(): string;
  /** Calls recorded on one response_url. */
  responses(url: string): SlackApiCall[];
  addUser(u: SlackUser): void;
  /** The next call of `method` is answered 429 with `Retry-After: seconds`. */
  rateLimitNext(method: string, seconds: number): void;
  /** Polls (generous deadline) until `pick` finds something among the calls. */
  waitFor<T>(
    pick: (calls: SlackApiCall[]) => T | undefined,
    what: string,
    timeoutMs?: number,
  ): Promise<T>;
  stop(): Promise<void>;
}

/**
 * A local stand-in for Slack's side (Slack cannot be run locally): a real HTTP server answering
 * the documented request and response shapes of chat.postMessage, chat.update and users.info
 * (bearer token, `ok`/`error` bodies, a `ts` per message), and `response_url`s. It records every
 * call and can answer 429 with Retry-After once, as Slack's rate limiter does.
 */
export async function startSlackApi(token = 'xoxb-test-token'): Promise<SlackApiStandIn> {
  const calls: SlackApiCall[] = [];
  const users = new Map<string, SlackUser>();
  const limited = new Map<string, number>();
  const messages = new Map<string, { channel: string; text: unknown }>();
  let seq = 0;
  let responseSeq = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const path = (req.url ?? '/').split('?')[0];
    const contentType = req.headers['content-type'];
    const method = path.startsWith('/api/')
      ? path.slice('/api/'.length)
      : path.startsWith('/response/')
        ? 'response_url'
        : 'unknown';
    let body: Record<string, unknown> = {};
    try {
      body = contentType?.startsWith('application/json')
        ? (JSON.parse(raw) as Record<string, unknown>)
        : Object.fromEntries(new URLSearchParams(raw));
    } catch {
      body = { unparsable: raw };
    }
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      calls.push({
        method,
        path,
        at: Date.now(),
        authorization: req.headers.authorization,
        contentType,
        body,
        status,
      });
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json',
        ...headers,
      });
      res.end(text);
    };
    const wait = limited.get(method);
    if (wait !== undefined) {
      limited.delete(method);
      return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(wait) });
    }
    if (req.method !== 'POST') return answer(405, { ok: false, error: 'method_not_allowed' });
    if (method === 'response_url') return answer(200, 'ok');
    if (req.headers.authorization !== `Bearer ${token}`)
      return answer(200, {
        ok: false,
        error: req.headers.authorization ? 'invalid_auth' : 'not_authed',
      });
    switch (method) {
      case 'chat.postMessage': {
        if (typeof body.channel !== 'string' || !body.channel)
          return answer(200, { ok: false, error: 'channel_not_found' });
        if (!body.text && !body.blocks) return answer(200, { ok: false, error: 'no_text' });
        const ts = `1700000000.${String(++seq).padStart(6, '0')}`;
        messages.set(`${body.channel}/${ts}`, { channel: body.channel, text: body.text });
        return answer(200, {
          ok: true,
          channel: body.channel,
          ts,
          message: { text: body.text, ts },
        });
      }
      case 'chat.update': {
        const key = `${String(body.channel)}/${String(body.ts)}`;
        if (!messages.has(key)) return answer(200, { ok: false, error: 'message_not_found' });
        messages.set(key, { channel: String(body.channel), text: body.text });
        return answer(200, { ok: true, channel: body.channel, ts: body.ts, text: body.text });
      }
      case 'users.info': {
        const u = users.get(String(body.user));
        if (!u) return answer(200, { ok: false, error: 'user_not_found' });
        return answer(200, {
          ok: true,
          user: {
            id: u.id,
            team_id: u.teamId,
            name: u.name,
            is_email_confirmed: u.emailConfirmed ?? false,
            profile: { email: u.email, real_name: u.name },
          },
        });
      }
      default:
        return answer(200, { ok: false, error: 'unknown_method' });
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    apiUrl: `${origin}/api`,
    origin,
    token,
    calls,
    responseUrl: () => `${origin}/response/T0001/${++responseSeq}/x`,
    responses: (url) =>
      calls.filter((c) => c.method === 'response_url' && `${origin}${c.path}` === url),
    addUser: (u) => users.set(u.id, u),
    rateLimitNext: (method, seconds) => limited.set(method, seconds),
    async waitFor(pick, what, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = pick(calls);
        if (found !== undefined) return found;
        if (Date.now() > deadline)
          throw new Error(`Slack stand-in: no ${what} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Signs a body as Slack does: the two headers a request from Slack carries. */
export function slackHeaders(
  secret: string,
  body: string,
  atSeconds = Math.floor(Date.now() / 1000),
) {
  const ts = String(atSeconds);
  return {
    'X-Slack-Request-Timestamp': ts,
    'X-Slack-Signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
    'Content-Type': 'application/x-www-form-urlencoded',
  };
}
