import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../src/database/embedded-postgres.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { pids } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'drain-admin-password';
/** Short, so the interrupted run is interrupted soon; the released run needs well under it. */
const GRACE = 8;
/** A sleep no other spec runs, so the leftover check finds only ours. */
const LONG_SLEEP = 'sleep 6007';

interface Proc {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  output: () => string;
}

/** `node dist/src/main.js` with a role, as compose runs the api and the workers. */
async function startService(role: 'api' | 'worker', env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, ROLE: role, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await until(`${role} to be healthy`, async () => {
    if (child.exitCode !== null) throw new Error(`${role} exited: ${out}`);
    return (await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    ))
      ? true
      : undefined;
  });
  return { child, port, exited, output: () => out };
}

/** Polls until `probe` returns something, with a generous deadline (never a fixed sleep). */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(p: Proc | undefined) {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exited;
}

describe('graceful drain on SIGTERM and a Redis outage (real api and worker processes)', () => {
  let db: TestDatabase;
  let redis: RedisServer;
  let api: Proc;
  let worker: Proc;
  let dir: string;
  let release: string;
  let auth: string;
  let sql: pg.Client;

  const call = async (method: string, path: string, body?: unknown, timeoutMs = 30_000) => {
    const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    };
  };
  const status = async (id: string) => (await call('GET', `/executions/${id}`)).body;
  const executionCount = async () =>
    Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM executions')).rows[0].n);

  beforeAll(async () => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      { cwd: ROOT, stdio: 'inherit' },
    );
    [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'firebreak-drain-'));
    // Local commands may run as an unprivileged user (the service is root): let them see it.
    chmodSync(dir, 0o755);
    release = join(dir, 'release');
    mkdirSync(join(dir, 'runbooks'));
    writeFileSync(
      join(dir, 'runbooks', 'until-released.yaml'),
      `name: until-released
description: Runs until the test releases it
kind: diagnostic
targets:
  nodes:
    names: [localhost]
steps:
  - name: wait
    run: while [ ! -e ${release} ]; do sleep 0.1; done; echo released
`,
    );
    writeFileSync(
      join(dir, 'runbooks', 'held-local.yaml'),
      `name: held-local
description: Held for an admin's approval
kind: remediation
approval: { approvers: [admin] }
steps:
  - name: never
    on: local
    run: echo must-not-run
`,
    );
    writeFileSync(
      join(dir, 'runbooks', 'outlasts-grace.yaml'),
      `name: outlasts-grace
description: A first step that finishes, a second one that outlasts any drain grace
kind: diagnostic
targets:
  nodes:
    names: [localhost]
steps:
  - name: before
    run: echo done-before-the-drain
  - name: long
    run: ${LONG_SLEEP}
`,
    );
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      FIREBREAK_ADMIN_PASSWORD: PASSWORD,
      RUNBOOKS_DIR: join(dir, 'runbooks'),
      DATA_DIR: join(dir, 'data'),
    };
    // The api's own reaper never runs (ROLE=api) and the heartbeat timeout is long: whatever
    // interrupts a run here is its worker.
    [api, worker] = await Promise.all([
      startService('api', { ...env, LOG_LEVEL: 'warn' }),
      startService('worker', { ...env, LOG_LEVEL: 'info', DRAIN_GRACE: String(GRACE) }),
    ]);
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const login = await call('POST', '/auth/login', { username: 'admin', password: PASSWORD });
    auth = `Bearer ${login.body.accessToken as string}`;
  }, 180_000);

  afterAll(async () => {
    await sql?.end();
    await stop(api);
    await stop(worker);
    await redis?.stop();
    await db?.drop();
    for (const pid of await pids(LONG_SLEEP)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM: a run that ends within DRAIN_GRACE succeeds, one that outlasts it is interrupted by the worker with its results kept, and the worker exits 0', async () => {
    const short = await call('POST', '/executions', { runbook: 'until-released' });
    const long = await call('POST', '/executions', { runbook: 'outlasts-grace' });
    expect(short.status).toBe(201);
    expect(long.status).toBe(201);
    const [shortId, longId] = [short.body.id as string, long.body.id as string];
    // Both running, the long one in its second step.
    await until('both runs to be running', async () =>
      (await status(shortId)).status === 'running' && (await pids(LONG_SLEEP)).length
        ? true
        : undefined,
    );

    worker.child.kill('SIGTERM');
    await until('the drain to start', () =>
      /drain: waiting up to 8 s for 2 running execution/.test(worker.output()) ? true : undefined,
    );
    // Taken no new work: a run started now stays queued for another worker.
    const later = await call('POST', '/executions', { runbook: 'until-released' });
    expect(later.status).toBe(201);
    // The short run is let go during the grace and finishes on its own.
    writeFileSync(release, '');

    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain(
      'drain: 1 execution(s) finished within the grace, 1 interrupted',
    );

    expect(await status(shortId)).toMatchObject({ status: 'succeeded', error: null });
    expect((await status(later.body.id as string)).status).toBe('queued');

    const interrupted = await status(longId);
    expect(interrupted).toMatchObject({
      status: 'interrupted',
      error: `worker shutting down: the drain grace of ${GRACE} s ran out`,
    });
    // The step that finished before the drain keeps its result.
    expect(interrupted.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ step: 'before', node: 'localhost', status: 'succeeded' }),
      ]),
    );
    const logs = (await call('GET', `/executions/${longId}/logs?limit=1000`)).body.items as Array<{
      line: string;
    }>;
    expect(logs.map((l) => l.line)).toEqual(
      expect.arrayContaining([
        'done-before-the-drain',
        expect.stringMatching(
          /^finished: interrupted \(worker shutting down: the drain grace of 8 s ran out\)/,
        ),
      ]),
    );
    // Audited as the system's interruption, with the reason.
    const { rows } = await sql.query<{ details: { reason: string } }>(
      `SELECT details FROM audit_log WHERE action = 'execution.interrupt' AND subject_id = $1`,
      [longId],
    );
    expect(rows).toEqual([{ details: expect.objectContaining({ reason: interrupted.error }) }]);
    // The command itself was stopped, not left behind.
    await until('the long command to be gone', async () =>
      (await pids(LONG_SLEEP)).length === 0 ? true : undefined,
    );
  }, 120_000);

  it('Redis unresponsive after the check: 503, and the execution is closed out as canceled, never left queued', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      // The api's connection stays up, but Redis holds every write (Bull's add is a script).
      await client.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      const res = await call('POST', '/executions', { runbook: 'until-released' });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'UNAVAILABLE' });
      expect(res.body.message).toMatch(/execution queue is unavailable .*did not answer/);
      const { rows } = await sql.query<{ status: string; error: string }>(
        `SELECT status, error FROM executions WHERE runbook_name = 'until-released' ORDER BY created_at DESC LIMIT 1`,
      );
      expect(rows[0]).toMatchObject({
        status: 'canceled',
        error: expect.stringMatching(/^not started: /),
      });
    } finally {
      await client.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      client.disconnect();
    }
  }, 60_000);

  it('Redis down: POST /executions answers 503 at once and writes nothing; /health says the queue is down; an approval is not decided', async () => {
    // A run held for approval, and another admin to decide it (four eyes).
    const held = await call('POST', '/executions', { runbook: 'held-local' });
    expect(held.status, JSON.stringify(held.body)).toBe(201);
    const user = await call('POST', '/users', {
      username: 'second-admin',
      displayName: 'second-admin',
      password: 'second-admin-password',
      roles: ['admin'],
      groups: [],
    });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const second = await call('POST', '/auth/login', {
      username: 'second-admin',
      password: 'second-admin-password',
    });
    const before = await executionCount();
    await redis.stop();
    await until('the api to notice', async () =>
      (await call('GET', '/health')).status === 503 ? true : undefined,
    );
    const health = await call('GET', '/health');
    expect(health.body.error).toMatchObject({
      queue: {
        status: 'down',
        kind: 'redis',
        message: expect.stringMatching(/^Redis connection is /),
      },
    });

    // Answered from the connection state, before anything is written (not after a wait in
    // Bull's offline queue, which lasts as long as Redis is away).
    const res = await call('POST', '/executions', { runbook: 'until-released' }, 20_000);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(res.body.message).toMatch(/^the execution queue is unavailable \(Redis connection is /);
    expect(await executionCount()).toBe(before);

    // A decision would release the run onto a queue that cannot take it: 503, nothing decided.
    const decided = await fetch(
      `http://127.0.0.1:${api.port}/executions/${held.body.id as string}/approvals`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${second.body.accessToken as string}`,
        },
        body: JSON.stringify({ decision: 'approve' }),
        signal: AbortSignal.timeout(20_000),
      },
    );
    expect(decided.status).toBe(503);
    expect(((await decided.json()) as { code: string }).code).toBe('UNAVAILABLE');
    const { rows } = await sql.query<{ status: string; state: string; decisions: string }>(
      `SELECT e.status, r.state, (SELECT count(*) FROM approval_decisions d WHERE d.request_id = r.id) AS decisions
         FROM executions e JOIN approval_requests r ON r.execution_id = e.id WHERE e.id = $1`,
      [held.body.id],
    );
    expect(rows).toEqual([{ status: 'awaiting_approval', state: 'pending', decisions: '0' }]);
  }, 60_000);
});
