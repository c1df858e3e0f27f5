/**
 * `firebreak login`, `logout`, `whoami`. Login proves the password once (POST /auth/login), mints a
 * named, expiring API token with that session (POST /auth/tokens), ends the session
 * (POST /auth/logout) and stores only the token, 0600, keyed by server URL. Logout revokes the
 * token on the server (DELETE /auth/tokens/:id) before forgetting it.
 */
import { hostname } from 'node:os';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { request } from './api.js';
import { credentialsPath, readCredentials, writeCredentials } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { age, fields, makeOut, printJson } from './output.js';

export function serverUrl(value: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw =
    value ??
    (env.FIREBREAK_URL || undefined) ??
    readCredentials(env).current ??
    'http://127.0.0.1:3000';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(EXIT.usage, `--url ${raw}: not a URL (expected http://host:port)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CliError(EXIT.usage, `--url ${raw}: expected http:// or https://`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** `30d`, `12h`, `90m` or an ISO 8601 time → an absolute time. */
export function parseExpiry(spec: string, now = Date.now()): string {
  const m = /^(\d{1,5})([mhd])$/.exec(spec.trim());
  if (m) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
    return new Date(now + Number(m[1]) * unit).toISOString();
  }
  const t = Date.parse(spec);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(spec))
    throw new CliError(
      EXIT.usage,
      `--expires ${spec}: expected a duration such as 90m, 12h or 30d, or an ISO 8601 time`,
    );
  return new Date(t).toISOString();
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from the terminal; with `hidden`, nothing is echoed (raw mode, no readline echo). */
function promptTty(prompt: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004')
          return done(new CliError(EXIT.usage, 'login canceled'));
        if (ch === '\u007f' || ch === '\b') {
          if (value.length && !hidden) process.stderr.write('\b \b');
          value = value.slice(0, -1);
        } else if (ch >= ' ') {
          value += ch;
          if (!hidden) process.stderr.write(ch);
        }
      }
    };
    stdin.on('data', onData);
  });
}

export const LOGIN_OPTIONS = {
  url: { type: 'string' },
  username: { type: 'string', short: 'u' },
  'password-stdin': { type: 'boolean' },
  name: { type: 'string' },
  expires: { type: 'string', default: '30d' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

export async function login(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: LOGIN_OPTIONS,
  });
  void positionals;
  const url = serverUrl(values.url, env);
  const expiresAt = parseExpiry(values.expires);
  const tty = Boolean(process.stdin.isTTY);
  let username = values.username ?? env.FIREBREAK_USERNAME;
  let password: string;
  if (values['password-stdin']) {
    if (!username) throw new CliError(EXIT.usage, '--password-stdin needs --username');
    password = (await readAllStdin()).replace(/\r?\n$/, '');
  } else {
    if (!tty)
      throw new CliError(
        EXIT.usage,
        'no terminal to ask for the password: pass --username and --password-stdin',
      );
    if (!username) username = (await promptTty(`Username for ${url}: `, false)).trim();
    password = await promptTty(`Password for ${username}: `, true);
  }
  if (!username || !password) throw new CliError(EXIT.usage, 'username and password are required');

  const session = await request<{ accessToken: string }>({ url }, 'POST', '/auth/login', {
    username,
    password,
  });
  const sessionServer = { url, token: session.accessToken };
  const name = values.name ?? `firebreak-cli@${hostname()}`;
  let created: { id: string; name: string; token: string; expiresAt: string; createdAt: string };
  try {
    created = await request(sessionServer, 'POST', '/auth/tokens', { name, expiresAt });
  } finally {
    // The password session has done its job: end it whatever happened to the token.
    await request(sessionServer, 'POST', '/auth/logout').catch(() => undefined);
  }
  const file = readCredentials(env);
  const previous = file.servers[url];
  file.servers[url] = {
    token: created.token,
    tokenId: created.id,
    tokenName: created.name,
    username,
    expiresAt: created.expiresAt,
    createdAt: created.createdAt,
  };
  file.current = url;
  const path = writeCredentials(env, file);
  // A login replaces the one before: its token is revoked rather than left working somewhere.
  if (previous && previous.tokenId !== created.id) {
    await request(
      { url, token: previous.token },
      'DELETE',
      `/auth/tokens/${previous.tokenId}`,
    ).catch(() => undefined);
  }
  const out = makeOut(Boolean(values.json), env);
  if (out.json) {
    printJson(out, {
      url,
      username,
      tokenId: created.id,
      tokenName: created.name,
      expiresAt: created.expiresAt,
      path,
    });
  } else {
    process.stderr.write(
      `Logged in to ${url} as ${username}; token "${created.name}" expires ${created.expiresAt} (stored in ${path})\n`,
    );
  }
  return EXIT.ok;
}

export const LOGOUT_OPTIONS = { url: { type: 'string' } } as const satisfies ParseArgsOptionsConfig;

export async function logout(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: LOGOUT_OPTIONS });
  const url = serverUrl(values.url, env);
  const file = readCredentials(env);
  const stored = file.servers[url];
  if (!stored) {
    process.stderr.write(`not logged in to ${url}\n`);
    return EXIT.auth;
  }
  let note = 'token revoked';
  try {
    await request({ url, token: stored.token }, 'DELETE', `/auth/tokens/${stored.tokenId}`);
  } catch (err) {
    // Already expired or revoked (401): nothing left to revoke. Anything else: keep it, so the
    // user can try again rather than lose track of a working token.
    if (!(err instanceof CliError) || err.exitCode !== EXIT.auth) throw err;
    note = `the server no longer accepted it (${err.message.split('\n')[0]})`;
  }
  delete file.servers[url];
  if (file.current === url) file.current = Object.keys(file.servers)[0];
  writeCredentials(env, file);
  process.stderr.write(`Logged out of ${url}: ${note}; removed from ${credentialsPath(env)}\n`);
  return EXIT.ok;
}

export const WHOAMI_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

export async function whoami(
  argv: string[],
  env: NodeJS.ProcessEnv,
  server: (
    values: { url?: string; token?: string },
    env: NodeJS.ProcessEnv,
  ) => { url: string; token: string },
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: WHOAMI_OPTIONS,
  });
  const s = server(values, env);
  const me = await request<{
    username: string;
    displayName: string;
    roles: string[];
    groups: string[];
    via: string;
  }>(s, 'GET', '/auth/me');
  const out = makeOut(Boolean(values.json), env);
  if (out.json) {
    printJson(out, me);
    return EXIT.ok;
  }
  const stored = readCredentials(env).servers[s.url];
  const fromStore = stored && stored.token === s.token;
  fields(out, [
    ['server', s.url],
    ['user', `${me.username} (${me.displayName})`],
    ['roles', me.roles],
    ['groups', me.groups],
    [
      'via',
      fromStore
        ? `token "${stored.tokenName}" from firebreak login, expires ${stored.expiresAt} (created ${age(stored.createdAt)})`
        : me.via,
    ],
  ]);
  return EXIT.ok;
}
