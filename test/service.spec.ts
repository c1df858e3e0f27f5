import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/database/embedded-postgres.js';

const ROOT = join(import.meta.dirname, '..');

/** Postgres processes whose command line names this data directory. */
function postgresFor(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmd.includes('postgres') && cmd.includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** The service as `node scripts/start.mjs` in this Node, or as a user types it: `npm start`. */
function start(env: Record<string, string>, via: 'node' | 'npm' = 'node'): Running {
  let out = '';
  const [cmd, args] =
    via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, ['scripts/start.mjs']];
  const child = spawn(cmd, args, {
    cwd: ROOT,
    // Its own process group, so a signal can reach npm and the service as a terminal sends it.
    detached: via === 'npm',
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'close': every holder of the pipes is gone (with npm, the service under it too).
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  return { child, port: Number(env.PORT), output: () => out, exited };
}

async function waitHealthy(r: Running, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null) throw new Error(`service exited early:\n${r.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`service not healthy after ${timeoutMs} ms:\n${r.output()}`);
}

describe('the service as a user runs it (npm start, embedded Postgres)', () => {
  let dataDir: string;

  beforeAll(() => {
    // `npm start` builds the service and the console when sources changed; do it once up front
    // so the timings below are starts (and a start prints only its own lines).
    execFileSync(
      process.execPath,
      [
        '-e',
        "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded({ console: true }))",
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    dataDir = mkdtempSync(join(tmpdir(), 'firebreak-service-'));
    chmodSync(dataDir, 0o755);
  }, 180_000);
  afterAll(() => {
    for (const pid of postgresFor(dataDir)) process.kill(pid, 'SIGQUIT');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('PORT=abc exits non-zero with one line naming PORT', async () => {
    const r = start({ PORT: 'abc', DATA_DIR: dataDir });
    expect(await r.exited).toBe(2);
    const lines = r.output().trim().split('\n');
    expect(lines, r.output()).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^firebreak: Invalid configuration: PORT="abc": expected the HTTP port/,
    );
  });

  it('first start initialises, prints the admin password once, serves, and Ctrl-C leaves no postgres', async () => {
    const port = await freePort();
    const r = start({ PORT: String(port), DATA_DIR: dataDir });
    const t0 = Date.now();
    await waitHealthy(r);
    const firstStartMs = Date.now() - t0;
    const password = /created user "admin" with password\s+(\S+)/.exec(r.output())?.[1];
    expect(password).toBeDefined();
    // Where to sign in: the web console's URL.
    expect(r.output()).toMatch(new RegExp(`Web console: http://[^\\s/]+:${port}/`));

    const login = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    expect(postgresFor(dataDir).length).toBeGreaterThan(0);

    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
    expect(postgresFor(dataDir)).toEqual([]);
    expect(r.output()).toContain('embedded Postgres stopped');
    // Logged for the record, never asserted: this machine is shared and noisy.
    console.log(`first start to healthy: ${firstStartMs} ms`);
  });

  it('second start, through `npm start`, runs on Node 24, reuses the cluster (no initdb, same admin) and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    // The system PATH's `node` may be older; npm puts node_modules/.bin (Node 24) first.
    const r = start({ PORT: String(port), DATA_DIR: dataDir }, 'npm');
    const t0 = Date.now();
    await waitHealthy(r);
    const secondStartMs = Date.now() - t0;
    expect(r.output()).not.toContain('initialising a new Postgres cluster');
    expect(r.output()).not.toContain('created user "admin"');
    expect(r.output()).toMatch(/Firebreak listening on .*Node v24\.\d+\.\d+\)/);
    expect(r.output()).not.toContain('without its native crypto binding');
    process.kill(-r.child.pid!, 'SIGTERM');
    // npm itself re-raises the signal (no exit code); what counts is that the service under it
    // shut down in order.
    await r.exited;
    expect(r.output()).toContain('SIGTERM: shutting down');
    expect(r.output()).toContain('embedded Postgres stopped');
    expect(postgresFor(dataDir)).toEqual([]);
    console.log(`second start to healthy: ${secondStartMs} ms`);
  });

  it('after a hard kill, the next start stops the orphaned postgres and comes up', async () => {
    const first = start({ PORT: String(await freePort()), DATA_DIR: dataDir });
    await waitHealthy(first);
    first.child.kill('SIGKILL');
    await first.exited;
    const orphans = postgresFor(dataDir);
    expect(orphans.length).toBeGreaterThan(0);

    const port = await freePort();
    const second = start({ PORT: String(port), DATA_DIR: dataDir });
    await waitHealthy(second);
    expect(second.output()).toContain('stopping an orphaned Postgres');
    for (const pid of orphans) expect(postgresFor(dataDir)).not.toContain(pid);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(postgresFor(dataDir)).toEqual([]);
  });
});
