import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/** A Slack call that failed for good (after retries), or a response_url that may not be called. */
export class SlackCallError extends Error {
  constructor(
    message: string,
    /** Slack's `error` code (`channel_not_found`, …) or the HTTP status, when known. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SlackCallError';
  }
}

export interface SlackClientOptions {
  /** Attempts per call (the first included). */
  attempts?: number;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Longest Retry-After honoured; a longer one fails the call instead of holding it. */
  maxRetryAfterMs?: number;
}

/** Web API methods that take form-encoded arguments rather than JSON. */
const FORM_METHODS = new Set(['users.info']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The one way Firebreak talks to Slack: Web API methods (chat.postMessage, chat.update,
 * users.info) under SLACK_API_URL with the bot token, and `response_url` follow-ups. Each call has
 * a timeout and is retried with backoff on network errors and 5xx, and after the `Retry-After`
 * of a 429. The token is sent only as a header and never appears in a log line or an error.
 * A `response_url` must be https on an allowed host (SLACK_RESPONSE_URL_HOSTS), so a forged one
 * cannot make Firebreak call anything else.
 */
@Injectable()
export class SlackClient {
  private readonly logger = new Logger(SlackClient.name);
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.attempts = 4;
    this.timeoutMs = 10_000;
    this.maxRetryAfterMs = 60_000;
  }

  /** For tests of the client itself: the same client with other limits. */
  static withOptions(config: AppConfig, o: SlackClientOptions): SlackClient {
    const c = new SlackClient(config);
    Object.assign(c, {
      attempts: o.attempts ?? c.attempts,
      timeoutMs: o.timeoutMs ?? c.timeoutMs,
      maxRetryAfterMs: o.maxRetryAfterMs ?? c.maxRetryAfterMs,
    });
    return c;
  }

  get canPost(): boolean {
    return !!this.config.slack.botToken;
  }

  /** A Web API method with a JSON body; returns Slack's answer (`ok: true`), else throws. */
  async call<T extends Record<string, unknown>>(
    method: string,
    body: Record<string, unknown>,
    limits: { attempts?: number; timeoutMs?: number } = {},
  ): Promise<T & { ok: true }> {
    const token = this.config.slack.botToken;
    if (!token) throw new SlackCallError(`${method}: SLACK_BOT_TOKEN is not set`, 'not_configured');
    // Read methods (users.info) take form arguments; write methods take JSON.
    const res = await this.send(
      `${this.config.slack.apiUrl}/${method}`,
      method,
      body,
      { authorization: `Bearer ${token}` },
      FORM_METHODS.has(method),
      limits,
    );
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(res) as Record<string, unknown>;
    } catch {
      throw new SlackCallError(`${method}: Slack answered something that is not JSON`);
    }
    if (parsed.ok !== true) {
      const code = typeof parsed.error === 'string' ? parsed.error : 'unknown_error';
      throw new SlackCallError(`${method}: Slack refused it (${code})`, code);
    }
    return parsed as T & { ok: true };
  }

  /** Whether a response_url may be called: https on an allowed host, or an allowed origin. */
  responseUrlAllowed(raw: string): boolean {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return false;
    }
    if (u.username || u.password) return false;
    for (const allowed of this.config.slack.responseUrlHosts) {
      if (allowed.includes('://')) {
        if (u.origin === allowed) return true;
      } else if (u.protocol === 'https:' && u.host === allowed) return true;
    }
    return false;
  }

  /** Posts a message to a command's or an action's response_url. */
  async respond(responseUrl: string, message: object): Promise<void> {
    if (!this.responseUrlAllowed(responseUrl))
      throw new SlackCallError('response_url: not a Slack host this service may call', 'refused');
    await this.send(responseUrl, 'response_url', message as Record<string, unknown>, {});
  }

  private async send(
    url: string,
    what: string,
    body: Record<string, unknown>,
    headers: Record<string, string>,
    form = false,
    limits: { attempts?: number; timeoutMs?: number } = {},
  ): Promise<string> {
    const attempts = limits.attempts ?? this.attempts;
    const timeoutMs = limits.timeoutMs ?? this.timeoutMs;
    const encoded = form
      ? new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString()
      : JSON.stringify(body);
    const type = form ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8';
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': type, ...headers },
          body: encoded,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        lastError = (err as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
        if (attempt < attempts) await sleep(this.backoff(attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) return text;
      lastError = `HTTP ${res.status}`;
      if (res.status === 429) {
        const wait = retryAfterMs(res.headers.get('retry-after'));
        if (wait > this.maxRetryAfterMs) break;
        this.logger.warn(`${what}: rate limited by Slack, retrying in ${wait} ms`);
        if (attempt < attempts) await sleep(wait);
        continue;
      }
      if (res.status >= 500 && attempt < attempts) {
        await sleep(this.backoff(attempt));
        continue;
      }
      break;
    }
    throw new SlackCallError(`${what}: ${lastError}`, lastError);
  }

  private backoff(attempt: number): number {
    return Math.min(200 * 2 ** (attempt - 1), 5000);
  }
}

/** Retry-After in seconds (Slack's form) or an HTTP date; missing or bad: one second. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 1000;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - now);
}
