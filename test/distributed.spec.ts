import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Bull from 'bull';
import pg from 'pg';
import { freePort } from '../src/database/embedded-postgres.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { readSse } from './support/fleet.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { startSshd, type SshServer } from './support/sshd.js';

const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'distributed-admin-password';

interface Proc {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** `node dist/src/main.js` with a role, as compose runs the api and the workers. */
function startService(role: 'api' | 'worker', env: Record<string, string>): Promise<Proc> {
  return freePort().then(async (port) => {
    let out = '';
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH!, ROLE: role, PORT: String(port), LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${role} exited: ${out}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${role} not healthy: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { child, port, output: () => out };
  });
}

async function stop(p: Proc | undefined) {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

describe('an api process and a separate worker process over a real Redis queue', () => {
  let db: TestDatabase;
  let redis: RedisServer;
  let sshd: SshServer;
  let api: Proc;
  let worker: Proc;
  let dir: string;

  beforeAll(async () => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    [db, redis, sshd] = await Promise.all([createTestDatabase(), startRedis(), startSshd()]);
    dir = mkdtempSync(join(tmpdir(), 'firebreak-dist-'));
    cpSync(join(ROOT, 'runbooks'), join(dir, 'runbooks'), { recursive: true });
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      FIREBREAK_ADMIN_PASSWORD: PASSWORD,
      RUNBOOKS_DIR: join(dir, 'runbooks'),
      DATA_DIR: join(dir, 'data'),
    };
    api = await startService('api', env);
    worker = await startService('worker', env);
  }, 180_000);

  afterAll(async () => {
    await stop(api);
    await stop(worker);
    await Promise.all([redis?.stop(), sshd?.stop()]);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the api queues diagnose-host, the worker runs it over SSH, and the api streams it live', async () => {
    const base = `http://127.0.0.1:${api.port}`;
    const call = async (method: string, path: string, body?: unknown, auth?: string) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const login = await call('POST', '/auth/login', { username: 'admin', password: PASSWORD });
    const auth = `Bearer ${login.body.accessToken as string}`;
    expect(
      (
        await call(
          'POST',
          '/credentials',
          { name: 'k', type: 'ssh-key', username: sshd.username, privateKey: sshd.privateKey },
          auth,
        )
      ).status,
    ).toBe(201);
    for (const name of ['app-1', 'app-2']) {
      const r = await call(
        'POST',
        '/nodes',
        {
          name,
          hostname: sshd.host,
          port: sshd.port,
          user: sshd.username,
          credential: 'k',
          hostKey: sshd.hostKeyFingerprint,
        },
        auth,
      );
      expect(r.status).toBe(201);
    }
    const started = await call(
      'POST',
      '/executions',
      { runbook: 'diagnose-host', nodes: ['app-1', 'app-2'] },
      auth,
    );
    expect(started.status).toBe(201);
    const id = started.body.id as string;

    const events = await readSse(`${base}/executions/${id}/stream`, auth);
    expect(events[events.length - 1]).toMatchObject({
      event: 'end',
      data: { status: 'succeeded' },
    });
    expect(
      events.some(
        (e) => e.event === 'log' && /load average/.test((e.data as { line: string }).line),
      ),
    ).toBe(true);

    // The worker process ran it, not the api process.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ worker: string }>(
      'SELECT worker FROM executions WHERE id = $1',
      [id],
    );
    await client.end();
    expect(rows[0].worker).toMatch(new RegExp(`:${worker.child.pid}$`));

    // The worker answers only health and metrics over HTTP.
    const onWorker = await fetch(`http://127.0.0.1:${worker.port}/runbooks`, {
      headers: { authorization: auth },
    });
    expect(onWorker.status).toBe(404);
    expect(((await onWorker.json()) as { message: string }).message).toMatch(/worker process/);
    // Hooks too: the hook lane (ahead of that answer in an api process) is not mounted here.
    const hookOnWorker = await fetch(
      `http://127.0.0.1:${worker.port}/hooks/alertmanager/00000000-0000-4000-8000-000000000000`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    expect(hookOnWorker.status).toBe(404);
    expect(((await hookOnWorker.json()) as { message: string }).message).toMatch(/worker process/);

    // Delivering the same execution id again (a double enqueue) is a no-op: the row is the truth.
    const logCount = async () =>
      (
        (await call('GET', `/executions/${id}/logs?limit=10000`, undefined, auth)).body
          .items as unknown[]
      ).length;
    const before = await logCount();
    const queue = new Bull('executions', redis.url, { prefix: 'firebreak' });
    const job = await queue.add('run', { executionId: id }, { jobId: id });
    await job.finished();
    await queue.close();
    const again = await call('GET', `/executions/${id}`, undefined, auth);
    expect(again.body.status).toBe('succeeded');
    expect(await logCount()).toBe(before);
  });
});
