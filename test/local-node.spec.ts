import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/database/embedded-postgres.js';

const ROOT = join(import.meta.dirname, '..');
const PASSWORD = 'local-node-admin-password';
const RUN_USER = 'firebreak-run';
/** Who local commands run as: the run user when the service is root, else the service's user. */
const EXPECTED_USER = process.getuid?.() === 0 ? RUN_USER : userInfo().username;

/** A runbook that shows who local commands run as and what they may read. */
const IDENTITY = `name: local-identity
description: Who local commands run as, and whether they can read a file
kind: diagnostic
options:
  - name: path
    type: string
    description: A file to read
targets:
  nodes:
    names: [localhost]
  keepGoing: true
steps:
  - name: whoami
    run: id -un && echo "home=$HOME"
  - name: read
    run: cat {{ options.path }}
    continueOnError: true
  - name: local-whoami
    on: local
    run: id -un
  - name: local-read
    on: local
    run: cat {{ options.path }}
    continueOnError: true
`;

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** The service as a user starts it (scripts/start.mjs: embedded Postgres under DATA_DIR). */
function start(env: Record<string, string>): Running {
  let out = '';
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  return { child, port: Number(env.PORT), output: () => out, exited };
}

async function waitHealthy(r: Running): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null) throw new Error(`service exited early:\n${r.output()}`);
    const ok = await fetch(`http://127.0.0.1:${r.port}/health`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`service not healthy:\n${r.output()}`);
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r || r.child.exitCode !== null) return;
  r.child.kill('SIGINT');
  await r.exited;
}

describe('the built-in localhost node (a fresh npm start, the CLI, the local executor)', () => {
  let dataDir: string;
  let runbooksDir: string;
  let service: Running | undefined;
  let url: string;
  let token: string;

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & unknown[] };
  };

  const waitFinal = async (id: string) => {
    for (;;) {
      const r = await api(`/executions/${id}`);
      if (!['queued', 'running'].includes(r.body.status as string)) return r.body;
      await new Promise((res) => setTimeout(res, 200));
    }
  };

  beforeAll(async () => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      { cwd: ROOT, stdio: 'inherit' },
    );
    dataDir = mkdtempSync(join(tmpdir(), 'firebreak-local-node-'));
    runbooksDir = mkdtempSync(join(tmpdir(), 'firebreak-local-runbooks-'));
    cpSync(join(ROOT, 'runbooks'), runbooksDir, { recursive: true });
    writeFileSync(join(runbooksDir, 'local-identity.yaml'), IDENTITY);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // No SECRET_KEY, no DATABASE_URL: the key is generated into DATA_DIR, as on a first start.
    service = start({
      PORT: String(port),
      DATA_DIR: dataDir,
      RUNBOOKS_DIR: runbooksDir,
      FIREBREAK_ADMIN_PASSWORD: PASSWORD,
    });
    await waitHealthy(service);
    const login = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    token = ((await login.json()) as { accessToken: string }).accessToken;
    const created = await api('/auth/tokens', {
      method: 'POST',
      body: JSON.stringify({ name: 'cli' }),
    });
    token = created.body.token as string;
  }, 180_000);

  afterAll(async () => {
    await stop(service);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(runbooksDir, { recursive: true, force: true });
  });

  it('is listed right after the first start: connection local, source builtin, not editable', async () => {
    const nodes = await api('/nodes');
    const local = (nodes.body as unknown as Array<Record<string, unknown>>).find(
      (n) => n.name === 'localhost',
    );
    expect(local).toMatchObject({
      name: 'localhost',
      connection: 'local',
      source: 'builtin',
      tags: ['local'],
      user: EXPECTED_USER,
      credential: null,
    });
    expect((local!.attributes as Record<string, string>).os).toBe('linux');

    const patch = await api('/nodes/localhost', {
      method: 'PATCH',
      body: JSON.stringify({ tags: ['x'] }),
    });
    expect(patch.status).toBe(409);
    expect(patch.body.message).toContain('built-in local node');
    const del = await api('/nodes/localhost', { method: 'DELETE' });
    expect(del.status).toBe(409);
  });

  it('DATA_DIR is closed to everyone but the service (and the embedded Postgres group)', () => {
    const mode = statSync(dataDir).mode & 0o777;
    expect(mode & 0o007).toBe(0);
    expect([0o700, 0o710]).toContain(mode);
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'pg-password')).mode & 0o777).toBe(0o600);
  });

  it('`firebreak run diagnose-host --node localhost --follow` succeeds through the local executor', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'firebreak.js'),
        'run',
        'diagnose-host',
        '--node',
        'localhost',
        '--follow',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, FIREBREAK_URL: url, FIREBREAK_TOKEN: token },
        timeout: 120_000,
      },
    );
    expect(r.stderr).toMatch(/execution [0-9a-f-]+: succeeded/);
    expect(r.status).toBe(0);
    // Output of the steps, labelled with the node.
    expect(r.stdout).toMatch(/localhost uptime .*load average/);
    expect(r.stdout).toMatch(/localhost memory .*Mem:/);
  });

  it('local commands run as the unprivileged user and cannot read the secret key', async () => {
    const secret = join(dataDir, 'secret.key');
    const started = await api('/executions', {
      method: 'POST',
      body: JSON.stringify({ runbook: 'local-identity', options: { path: secret } }),
    });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    await waitFinal(id);
    const detail = await api(`/executions/${id}`);
    const results = detail.body.results as Array<{
      step: string;
      node: string | null;
      status: string;
    }>;
    const status = (step: string) => results.find((x) => x.step === step)?.status;
    expect(status('whoami')).toBe('succeeded');
    expect(status('read')).toBe('failed');
    expect(status('local-whoami')).toBe('succeeded');
    expect(status('local-read')).toBe('failed');
    expect(results.find((x) => x.step === 'read')?.node).toBe('localhost');

    const lines = (await api(`/executions/${id}/logs`)).body.items as Array<{
      step: string | null;
      stream: string;
      line: string;
    }>;
    const of = (step: string, stream: string) =>
      lines.filter((l) => l.step === step && l.stream === stream).map((l) => l.line);
    expect(of('whoami', 'stdout')[0]).toBe(EXPECTED_USER);
    expect(of('local-whoami', 'stdout')).toEqual([EXPECTED_USER]);
    expect(of('read', 'stderr').join('\n')).toContain('Permission denied');
    expect(of('local-read', 'stderr').join('\n')).toContain('Permission denied');
    // The key itself never reached the log.
    const key = readFileSync(secret, 'utf8').trim();
    expect(lines.some((l) => l.line.includes(key))).toBe(false);
  }, 60_000);

  it('LOCAL_NODE=false removes it on the next start', async () => {
    await stop(service);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    service = start({
      PORT: String(port),
      DATA_DIR: dataDir,
      RUNBOOKS_DIR: runbooksDir,
      LOCAL_NODE: 'false',
    });
    await waitHealthy(service);
    const nodes = (await api('/nodes?includeDisabled=true')).body as unknown as Array<{
      name: string;
    }>;
    expect(nodes.map((n) => n.name)).not.toContain('localhost');
    // Every local process group of the finished runs was taken off the leftover record.
    const run = join(dataDir, 'run');
    expect(existsSync(run) ? readdirSync(run) : []).toEqual([]);
  }, 120_000);
});
