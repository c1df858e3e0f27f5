import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/database/embedded-postgres.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'leftovers-admin-password';

const HOLD = `name: hold
description: Starts a long local command
kind: diagnostic
steps:
  - name: hold
    on: local
    run: echo holding && sleep 600
`;

interface Proc {
  child: ChildProcess;
  port: number;
  exited: Promise<unknown>;
  output: () => string;
}

/** `node dist/src/main.js`, an api and worker in one process, as a user runs it. */
async function startService(env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, ROLE: 'all', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited: ${out}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`service not healthy: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, port, exited, output: () => out };
}

/** Processes on this host whose environment carries the execution's marker. */
function marked(executionId: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1')
          .split('\0')
          .includes(`FIREBREAK_EXECUTION=${executionId}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The local spawner process of the service `pid` (its child running spawner-child). */
function spawnerOf(pid: number): number | undefined {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .split(' ')
    .filter(Boolean)
    .map(Number);
  return children.find((c) => commandOf(c).includes('spawner-child'));
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('local processes a killed worker left behind', () => {
  let db: TestDatabase;
  let dir: string;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  let executionId: string | undefined;

  beforeAll(async () => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      { cwd: ROOT, stdio: 'inherit' },
    );
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-leftovers-'));
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(join(dir, 'runbooks', 'hold.yaml'), HOLD);
    env = {
      DATABASE_URL: db.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      FIREBREAK_ADMIN_PASSWORD: PASSWORD,
      RUNBOOKS_DIR: join(dir, 'runbooks'),
      DATA_DIR: join(dir, 'data'),
      HEARTBEAT_TIMEOUT: '2',
    };
  }, 180_000);

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    // Whatever the assertions said, leave nothing running.
    if (executionId) for (const pid of marked(executionId)) process.kill(pid, 'SIGKILL');
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A service that runs `hold`, once its `sleep 600` is running. */
  async function startHolding(): Promise<{ service: Proc; id: string; sleeping: number[] }> {
    const service = await startService(env);
    procs.push(service);
    const base = `http://127.0.0.1:${service.port}`;
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    const auth = `Bearer ${((await login.json()) as { accessToken: string }).accessToken}`;
    const started = await fetch(`${base}/executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({ runbook: 'hold' }),
    });
    expect(started.status).toBe(201);
    const id = ((await started.json()) as { id: string }).id;
    executionId = id;
    const sleeping = await until('the sleep to start', () => {
      const pids = marked(id).filter((pid) => commandOf(pid) === 'sleep 600');
      return pids.length ? pids : undefined;
    });
    return { service, id, sleeping };
  }

  it('`sleep 600` in an on: local step is killed once the worker and its spawner are gone (kill -9 of both), and the run is interrupted', async () => {
    const { service: first, id, sleeping } = await startHolding();

    // The worker and its local spawner die together (the OOM killer, `kill -9` of both): the
    // worker is stopped first so it cannot see the spawner go.
    const spawner = spawnerOf(first.child.pid!);
    expect(spawner).toBeDefined();
    process.kill(first.child.pid!, 'SIGSTOP');
    process.kill(spawner!, 'SIGKILL');
    first.child.kill('SIGKILL');
    await first.exited;
    // Started in a session of its own, it outlives them: this is what needs cleaning up.
    expect(sleeping.every((pid) => commandOf(pid) === 'sleep 600')).toBe(true);

    // Another process on this host with the same DATA_DIR: its reaper interrupts the run and
    // stops what the dead worker left.
    const second = await startService(env);
    procs.push(second);
    const base2 = `http://127.0.0.1:${second.port}`;
    const login2 = await fetch(`${base2}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    const auth2 = `Bearer ${((await login2.json()) as { accessToken: string }).accessToken}`;
    const final = await until('the run to be interrupted', async () => {
      const r = await fetch(`${base2}/executions/${id}`, { headers: { authorization: auth2 } });
      const body = (await r.json()) as { status: string };
      return body.status === 'running' ? undefined : body;
    });
    expect(final.status).toBe('interrupted');
    // Interrupted, never run again on its own: the run started exactly once.
    const logs = await fetch(`${base2}/executions/${id}/logs?limit=1000`, {
      headers: { authorization: auth2 },
    });
    const lines = ((await logs.json()) as { items: Array<{ line: string }> }).items;
    expect(lines.filter((l) => l.line.startsWith('started hold'))).toHaveLength(1);
    await until('the leftovers to be gone', () => (marked(id).length === 0 ? true : undefined));
    for (const pid of sleeping) expect(commandOf(pid)).toBe('');
    expect(readdirSync(join(dir, 'data', 'run'))).toEqual([]);
  }, 180_000);

  it('a worker killed alone: its spawner stops the commands it started at once', async () => {
    const { service, id, sleeping } = await startHolding();
    const spawner = spawnerOf(service.child.pid!);
    service.child.kill('SIGKILL');
    await service.exited;
    // No other process needed: the spawner saw its worker go, killed the group and exited.
    await until('the sleep to be gone', () => (marked(id).length === 0 ? true : undefined));
    for (const pid of sleeping) expect(commandOf(pid)).toBe('');
    await until('the spawner to exit', () => (commandOf(spawner!) === '' ? true : undefined));
  }, 180_000);
});
