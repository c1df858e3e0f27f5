import { CliError, EXIT, describeHttpError, exitCodeForStatus } from './errors.js';

export interface Server {
  url: string;
  token: string;
}

/**
 * One request to the REST API with a bearer token. A non-2xx answer becomes a CliError carrying
 * the server's code, message and field paths and the exit code for its status; an unreachable
 * server exits 6. The token is never part of a message.
 */
export async function request<T = unknown>(
  server: { url: string; token?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        accept: 'application/json, text/plain;q=0.9, */*;q=0.1',
        ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      EXIT.server,
      `cannot reach ${server.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json');
  let payload: unknown = text;
  if (json && text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
  }
  if (!res.ok)
    throw new CliError(exitCodeForStatus(res.status), describeHttpError(res.status, payload));
  return (res.status === 204 ? undefined : payload) as T;
}
