/**
 * Exit codes scripts can rely on (documented in `firebreak --help` and docs/cli.md):
 *
 *   0  ok
 *   1  the thing failed: a run did not succeed, lint found problems
 *   2  usage: bad arguments, or the server refused the input (400: the field path is printed)
 *   3  not authenticated or not allowed (401, 403, a credentials file others may read)
 *   4  not found (404)
 *   5  refused in the current state: conflict, change freeze, rate limit (409, 423, 429)
 *   6  the server could not be reached or failed (5xx)
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  refused: 5,
  server: 6,
} as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 423 || status === 429) return EXIT.refused;
  if (status >= 400 && status < 500) return EXIT.usage;
  return EXIT.server;
}

interface ErrorBody {
  code?: string;
  message?: string;
  details?: unknown;
}

/** `404 NOT_FOUND: Runbook "x" does not exist` plus one `  path: message` line per field problem. */
export function describeHttpError(status: number, body: unknown): string {
  const b = (body && typeof body === 'object' ? body : {}) as ErrorBody;
  const head = `${status}${b.code ? ` ${b.code}` : ''}: ${b.message ?? 'request failed'}`;
  const fields = Array.isArray(b.details)
    ? (b.details as Array<{ path?: unknown; message?: unknown }>).filter(
        (d) => typeof d?.path === 'string' && typeof d?.message === 'string',
      )
    : [];
  // The message already joins the field problems when there is one; list them when several.
  if (fields.length < 2) return head;
  return [head, ...fields.map((f) => `  ${String(f.path)}: ${String(f.message)}`)].join('\n');
}
