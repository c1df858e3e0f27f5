import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Errors that mean "the database is not reachable right now" (refused, reset, terminated by a
 * restart, starting up or shutting down), as opposed to a statement the database refused. Only
 * these are worth retrying: the same statement will work once the server is back. Over a Unix
 * socket a stopped server is `connect ENOENT <socket>` (it removes its socket file).
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown (terminating connection due to administrator command)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (the database system is starting up / shutting down)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
const CONNECTION_MESSAGE =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|client has encountered a connection error|not queryable|terminating connection|the database system is (starting up|shutting down|in recovery mode)|connect (ECONNREFUSED|ENOENT)/i;

export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    if (typeof message === 'string' && CONNECTION_MESSAGE.test(message)) return true;
    // TypeORM's QueryFailedError keeps pg's error as driverError; AggregateError lists several.
    const inner = e as { driverError?: unknown; errors?: unknown[]; cause?: unknown };
    if (Array.isArray(inner.errors) && inner.errors.some((x) => isConnectionError(x))) return true;
    e = inner.driverError ?? inner.cause;
  }
  return false;
}

/** Thrown when the database stayed unreachable for longer than the caller allows. */
export class DatabaseUnavailable extends Error {
  constructor(
    readonly forMs: number,
    readonly last: unknown,
  ) {
    super(
      `the database was unreachable for more than ${Math.round(forMs / 1000)} s (last error: ${
        (last as Error)?.message ?? String(last)
      })`,
    );
    this.name = 'DatabaseUnavailable';
  }
}

export interface RetryOptions {
  /** Give up (DatabaseUnavailable) after retrying this long; Infinity: until it works. */
  limitMs: number;
  /** First delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying (rejects with the last error) once aborted. */
  signal?: AbortSignal;
  /** Called before each wait, with the error and the delay (for a warning log). */
  onRetry?: (error: unknown, delayMs: number) => void;
}

/** The delay before retry number `attempt` (1-based): doubling from `initial`, capped, ±20%. */
export function backoffDelay(attempt: number, initial = 100, max = 5000): number {
  const base = Math.min(max, initial * 2 ** Math.min(attempt - 1, 20));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Runs `fn`, retrying it with exponential backoff while it fails because the database is not
 * reachable. Any other error is thrown at once. `fn` must be safe to run again (a transaction
 * that did not commit, or an idempotent statement).
 */
export async function retryWhileUnreachable<T>(
  fn: () => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isConnectionError(error) || opts.signal?.aborted) throw error;
      firstFailure ??= Date.now();
      const away = Date.now() - firstFailure;
      if (away >= opts.limitMs) throw new DatabaseUnavailable(away, error);
      const delay = Math.min(
        backoffDelay(attempt, opts.initialDelayMs, opts.maxDelayMs),
        opts.limitMs - away,
      );
      opts.onRetry?.(error, delay);
      await sleep(delay, undefined, { ref: true });
    }
  }
}
