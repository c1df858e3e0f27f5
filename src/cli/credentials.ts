/**
 * Where `firebreak login` keeps its API tokens: `$XDG_CONFIG_HOME/firebreak/credentials.json`
 * (default `~/.config/firebreak/`), one entry per server URL. The file is written 0600 in a 0700
 * directory, and a file that others may read (or that belongs to someone else) is refused, as ssh
 * refuses a private key with loose permissions: a token that leaked is a person's access.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT } from './errors.js';

export interface StoredLogin {
  token: string;
  /** The token's id, for DELETE /auth/tokens/:id at logout. */
  tokenId: string;
  tokenName: string;
  username: string;
  expiresAt: string;
  createdAt: string;
}

export interface CredentialsFile {
  /** The server of the last login: used when neither --url nor FIREBREAK_URL says otherwise. */
  current?: string;
  servers: Record<string, StoredLogin>;
}

export function credentialsDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.config');
  return join(base, 'firebreak');
}

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  return join(credentialsDir(env), 'credentials.json');
}

/** The stored logins, or none; throws (exit 3) on a file others could read. */
export function readCredentials(env: NodeJS.ProcessEnv): CredentialsFile {
  const path = credentialsPath(env);
  if (!existsSync(path)) return { servers: {} };
  const st = statSync(path);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new CliError(
      EXIT.auth,
      `${path} belongs to another user (uid ${st.uid}); refusing to use its tokens`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new CliError(
      EXIT.auth,
      `${path} is accessible by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `its tokens are ignored. Run: chmod 600 ${path}`,
    );
  }
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as CredentialsFile;
    return { current: parsed.current, servers: parsed.servers ?? {} };
  } catch {
    throw new CliError(
      EXIT.usage,
      `${path} is not valid JSON; remove it and run firebreak login again`,
    );
  }
}

/** Writes atomically: a temp file created 0600, then renamed over the old one. */
export function writeCredentials(env: NodeJS.ProcessEnv, file: CredentialsFile): string {
  const dir = credentialsDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = credentialsPath(env);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}
