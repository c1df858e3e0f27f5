import { execFile } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The unprivileged account local commands run as when the service runs as root. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
  /** A directory it owns and may write (HOME, and the working directory of its commands). */
  home: string;
}

async function lookup(user: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([
    execFileAsync('id', ['-u', user]),
    execFileAsync('id', ['-g', user]),
  ]);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * Who local commands (the `localhost` node, `on: local` steps) run as. Not root: the service's
 * own user, so nothing changes (undefined). Root: the system user `name`, created when missing
 * (`useradd --system`, no login shell, as the embedded Postgres user is), with a home of its
 * own under /var/lib. It is not in any group that may enter DATA_DIR, so it cannot read the
 * secret key or the database password.
 */
export async function resolveRunAs(name: string): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const home = `/var/lib/${name}`;
  let ids: { uid: number; gid: number };
  try {
    ids = await lookup(name);
  } catch {
    try {
      await execFileAsync('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        home,
        '--shell',
        '/usr/sbin/nologin',
        name,
      ]);
    } catch (err) {
      // Another process may have created it meanwhile; the lookup below says.
      const e = err as Error & { stderr?: string };
      const stderr = typeof e.stderr === 'string' ? e.stderr.trim() : '';
      if (!/already exists/.test(stderr)) {
        throw new Error(`cannot create the local run user ${name}: ${stderr || e.message}`, {
          cause: err,
        });
      }
    }
    ids = await lookup(name);
  }
  if (ids.uid === 0) throw new Error(`the local run user ${name} has uid 0: choose another`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const st = lstatSync(home);
  if (!st.isDirectory()) throw new Error(`${home} (HOME of ${name}) is not a directory`);
  chownSync(home, ids.uid, ids.gid);
  return { user: name, ...ids, home };
}
