import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';

/**
 * The terminal (#15 item 9): the built `firebreak` bin as a child process against the real
 * server, each user with their own XDG_CONFIG_HOME, no FIREBREAK_TOKEN.
 */
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'firebreak.js');

const RUNBOOKS: Record<string, string> = {
  'cli-echo': `name: cli-echo
description: Says hello on the Firebreak host
kind: diagnostic
tags: [cli]
options:
  - { name: who, type: string, default: world }
steps:
  - name: hello
    on: local
    run: echo hello {{ options.who }}
`,
  'cli-held': `name: cli-held
description: Held for an sre-lead
kind: remediation
approval: { approvers: [sre-lead] }
steps:
  - name: go
    on: local
    run: echo approved-and-ran
`,
};

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('firebreak CLI: login, tables, --json, exit codes, completion', () => {
  let t: TestApp;
  let dir: string;
  let url: string;
  const homes: Record<string, string> = {};
  const passwords: Record<string, string> = { admin: ADMIN_PASSWORD };

  /** Runs the bin asynchronously (the server lives in this process: never spawnSync). */
  const cli = (
    who: string,
    args: string[],
    opts: { input?: string; env?: Record<string, string> } = {},
  ) =>
    new Promise<Result>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: homes[who],
        XDG_CONFIG_HOME: join(homes[who], 'config'),
        FIREBREAK_URL: url,
        ...opts.env,
      };
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(opts.input ?? '');
    });
  const credentials = (who: string) => join(homes[who], 'config', 'firebreak', 'credentials.json');
  const loginAs = (who: string, extra: string[] = []) =>
    cli(who, ['login', '--username', who, '--password-stdin', ...extra], {
      input: `${passwords[who]}\n`,
    });

  beforeAll(async () => {
    execFileSync(
      process.execPath,
      ['-e', "import('./scripts/build-if-needed.mjs').then((m) => m.buildIfNeeded())"],
      { cwd: ROOT, stdio: 'inherit' },
    );
    dir = mkdtempSync(join(tmpdir(), 'firebreak-cli-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({ RUNBOOKS_DIR: dir });
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    for (const [user, roles, groups] of [
      ['admin', [], []],
      ['lead', ['operator'], ['sre-lead']],
      ['watcher', ['viewer'], []],
    ] as const) {
      homes[user] = mkdtempSync(join(dir, `home-${user}-`));
      if (user === 'admin') continue;
      passwords[user] = `pw-${user}-0123456789`;
      const res = await t
        .http()
        .post('/users')
        .set('Authorization', t.adminAuth)
        .send({ username: user, displayName: user, password: passwords[user], roles, groups });
      expect(res.status).toBe(201);
    }
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('login --password-stdin stores a named, expiring token 0600 (dir 0700); later commands need no FIREBREAK_TOKEN', async () => {
    const r = await loginAs('admin', ['--name', 'laptop', '--expires', '2d']);
    expect(r.stderr).toContain(`Logged in to ${url} as admin`);
    expect(r.code).toBe(0);
    const path = credentials('admin');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(homes.admin, 'config', 'firebreak')).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as {
      current: string;
      servers: Record<string, { token: string; tokenId: string; expiresAt: string }>;
    };
    const entry = stored.servers[url];
    expect(stored.current).toBe(url);
    // Neither the password nor the token is ever printed.
    for (const secret of [ADMIN_PASSWORD, entry.token])
      expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    // The token is named and expires as asked (2 days, give or take the run).
    const tokens = await t.http().get('/auth/tokens').set('Authorization', t.adminAuth);
    const token = (tokens.body as Array<{ id: string; name: string; expiresAt: string }>).find(
      (x) => x.id === entry.tokenId,
    );
    expect(token?.name).toBe('laptop');
    const days = (Date.parse(token!.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(1.9);
    expect(days).toBeLessThanOrEqual(2);

    // Without --url, FIREBREAK_URL or FIREBREAK_TOKEN: the last login's server and token.
    const me = await cli('admin', ['whoami'], { env: { FIREBREAK_URL: '' } });
    expect(me.stderr).toBe('');
    expect(me.stdout).toMatch(/^user:\s+admin/m);
    expect(me.stdout).toContain('token "laptop" from firebreak login');
    expect(me.code).toBe(0);
  });

  it('a credentials file others may read is refused, like ssh (exit 3)', async () => {
    const path = credentials('admin');
    chmodSync(path, 0o644);
    try {
      const r = await cli('admin', ['runbooks', 'list']);
      expect(r.stderr).toContain(`${path} is accessible by others (mode 0644)`);
      expect(r.stderr).toContain(`chmod 600 ${path}`);
      expect(r.code).toBe(3);
    } finally {
      chmodSync(path, 0o600);
    }
  });

  it('runbooks list|show|versions|diff: aligned tables, --json is the API JSON', async () => {
    // Independent calls run side by side (each is a process start).
    const [list, json, show] = await Promise.all([
      cli('admin', ['runbooks', 'list']),
      cli('admin', ['runbooks', 'list', '--json', '--kind', 'diagnostic']),
      cli('admin', ['runbooks', 'show', 'cli-echo']),
    ]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+VERSION\s+RUN\s+TAGS\s+DESCRIPTION$/);
    expect(lines).toHaveLength(3);
    // Aligned: every row's KIND starts under the header's.
    const kindAt = lines[0].indexOf('KIND');
    for (const l of lines.slice(1)) expect(l.slice(kindAt)).toMatch(/^(diagnostic|remediation)/);
    expect(list.stdout).not.toContain('\u001b['); // not a TTY: no colour

    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as Array<{ name: string; canRun: boolean }>;
    expect(parsed.map((r) => r.name)).toEqual(['cli-echo']);

    expect(show.stdout).toMatch(/^name:\s+cli-echo$/m);
    expect(show.stdout).toMatch(/^who\s+string\s+no\s+"world"/m);
    expect(show.code).toBe(0);

    // A second version, through the API, to diff against.
    const v2 = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(RUNBOOKS['cli-echo'].replace('echo hello', 'echo hi'));
    expect(v2.body.version).toBe(2);
    const [versions, diff] = await Promise.all([
      cli('admin', ['runbooks', 'versions', 'cli-echo', '--json']),
      cli('admin', ['runbooks', 'diff', 'cli-echo']),
    ]);
    expect(
      (JSON.parse(versions.stdout) as Array<{ version: number }>).map((v) => v.version),
    ).toEqual([2, 1]);
    expect(diff.stdout).toContain('-    run: echo hello {{ options.who }}');
    expect(diff.stdout).toContain('+    run: echo hi {{ options.who }}');
    expect(diff.code).toBe(0);
  });

  it('exit codes: 4 not found, 2 usage or refused input (with the field path), 3 forbidden or logged out', async () => {
    const [missing, noExec, usage, nonsense, bogus, badSev, login] = await Promise.all([
      cli('admin', ['runbooks', 'show', 'no-such-runbook']),
      cli('admin', ['executions', 'show', '00000000-0000-4000-8000-000000000000']),
      cli('admin', ['runbooks', 'frobnicate']),
      cli('admin', ['nonsense']),
      cli('admin', ['executions', 'list', '--bogus-flag']),
      cli('admin', ['incidents', 'declare', '--title', 'x', '--severity', 'SEV9']),
      loginAs('watcher'),
    ]);
    expect(missing.stderr).toBe(
      'firebreak: 404 NOT_FOUND: Runbook "no-such-runbook" does not exist\n',
    );
    expect(missing.code).toBe(4);
    expect(noExec.code).toBe(4);

    expect(usage.stderr).toContain('usage: firebreak runbooks list|show NAME');
    expect(usage.code).toBe(2);
    expect(nonsense.code).toBe(2);
    expect(bogus.stderr).toContain("Unknown option '--bogus-flag'");
    expect(bogus.code).toBe(2);
    expect(badSev.stderr).toContain('severity: must be one of SEV1, SEV2, SEV3, SEV4');
    expect(badSev.stderr).not.toMatch(/\n\s+at /); // never a stack trace
    expect(badSev.code).toBe(2);

    expect(login.code).toBe(0);
    const [forbidden, wrong, nobody] = await Promise.all([
      cli('watcher', ['run', 'cli-echo']),
      cli('watcher', ['login', '--username', 'watcher', '--password-stdin'], {
        input: 'not-the-password\n',
      }),
      cli('watcher', ['whoami'], { env: { XDG_CONFIG_HOME: join(dir, 'empty') } }),
    ]);
    expect(forbidden.stderr).toMatch(/^firebreak: 403 FORBIDDEN: /);
    expect(forbidden.code).toBe(3);

    expect(wrong.stderr).toContain('401');
    expect(wrong.stderr).not.toContain('not-the-password');
    expect(wrong.code).toBe(3);

    expect(nobody.stderr).toContain(`not logged in to ${url}: run firebreak login`);
    expect(nobody.code).toBe(3);
  });

  it('executions list|show, approve and reject: the approver works from their own login', async () => {
    const started = await cli('admin', ['run', 'cli-echo', '-o', 'who=cli', '--follow']);
    expect(started.stdout).toContain('hello | hi cli');
    expect(started.code).toBe(0);
    const list = await cli('admin', ['executions', 'list', '--runbook', 'cli-echo', '--json']);
    const rows = JSON.parse(list.stdout) as Array<{ id: string; status: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('succeeded');
    const table = await cli('admin', ['executions', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+RUNBOOK\s+STATUS\s+ACTOR/);
    expect(table.stdout).toMatch(
      new RegExp(`^${rows[0].id}\\s+cli-echo v2\\s+succeeded\\s+admin`, 'm'),
    );
    const show = await cli('admin', ['executions', 'show', rows[0].id]);
    expect(show.stdout).toMatch(/^hello\s+\(local\)\s+succeeded\s+0/m);

    expect((await loginAs('lead')).code).toBe(0);
    const held = await cli('admin', ['run', 'cli-held']);
    const heldId = held.stdout.trim();
    expect(held.stderr).toContain('awaiting_approval');
    const rejectUsage = await cli('lead', ['reject', heldId]);
    expect(rejectUsage.stderr).toContain('reject needs --comment');
    expect(rejectUsage.code).toBe(2);
    // Four eyes: the requester may not approve their own run.
    expect((await cli('admin', ['approve', heldId])).code).toBe(3);
    const approved = await cli('lead', ['approve', heldId, '--comment', 'looks right']);
    expect(approved.stderr).toContain(`execution ${heldId}: approved`);
    expect(approved.code).toBe(0);
    // Deciding twice is refused in that state.
    const again = await cli('lead', ['reject', heldId, '--comment', 'changed my mind']);
    expect(again.stderr).toMatch(/^firebreak: 409 /);
    expect(again.code).toBe(5);
    const deadline = Date.now() + 30_000;
    let status = '';
    while (Date.now() < deadline && status !== 'succeeded') {
      const s = await cli('lead', ['executions', 'show', heldId, '--json']);
      status = (JSON.parse(s.stdout) as { status: string }).status;
      if (status === 'failed') break;
    }
    expect(status).toBe('succeeded');
  });

  it('incidents declare|list|show|note|status', async () => {
    const declared = await cli('admin', [
      'incidents',
      'declare',
      '--title',
      'Checkout is slow',
      '--severity',
      'SEV2',
    ]);
    expect(declared.code).toBe(0);
    const ref = declared.stdout.trim();
    expect(ref).toMatch(/^INC-\d+$/);
    const [note, moved, bad, gone] = await Promise.all([
      cli('admin', ['incidents', 'note', ref, 'looking', 'at', 'the', 'db']),
      cli('admin', ['incidents', 'status', ref, 'investigating']),
      cli('admin', ['incidents', 'status', ref, 'sleeping']),
      cli('admin', ['incidents', 'show', 'INC-99999']),
    ]);
    expect(note.code).toBe(0);
    expect(moved.code).toBe(0);
    expect(gone.code).toBe(4);
    expect(bad.stderr).toContain('status: must be one of');
    expect(bad.code).toBe(2);
    const [list, show] = await Promise.all([
      cli('admin', ['incidents', 'list']),
      cli('admin', ['incidents', 'show', ref, '--json']),
    ]);
    expect(list.stdout).toMatch(
      new RegExp(`^${ref}\\s+SEV2\\s+investigating\\s+Checkout is slow`, 'm'),
    );
    expect(JSON.parse(show.stdout)).toMatchObject({
      ref,
      status: 'investigating',
      severity: 'SEV2',
    });
    const timeline = await t
      .http()
      .get(`/incidents/${ref}/timeline`)
      .set('Authorization', t.adminAuth);
    expect(JSON.stringify(timeline.body)).toContain('looking at the db');
  });

  it('completion bash: valid script; completes subcommands, flags and runbook names from the server', async () => {
    const r = await cli('admin', ['completion', 'bash']);
    expect(r.code).toBe(0);
    const script = join(dir, 'firebreak.bash');
    writeFileSync(script, r.stdout);
    // A `firebreak` on PATH, as an installed bin would be.
    const bin = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(bin, 'firebreak'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, {
      mode: 0o755,
    });
    const complete = (words: string[]) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(
          'bash',
          [
            '-c',
            `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _firebreak; echo "\${COMPREPLY[*]}"`,
            'complete',
            script,
          ],
          {
            env: {
              PATH: `${bin}:${process.env.PATH}`,
              HOME: homes.admin,
              XDG_CONFIG_HOME: join(homes.admin, 'config'),
              FIREBREAK_URL: url,
            },
          },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('close', () => resolve(out.trim()));
      });
    const [cmd, sub, flag, names, zsh, fish, tcsh] = await Promise.all([
      complete(['firebreak', 'inc']),
      complete(['firebreak', 'runbooks', 'v']),
      complete(['firebreak', 'executions', 'list', '--st']),
      complete(['firebreak', 'runbooks', 'show', 'cli-']),
      cli('admin', ['completion', 'zsh']),
      cli('admin', ['completion', 'fish']),
      cli('admin', ['completion', 'tcsh']),
    ]);
    expect([cmd, sub, flag, names]).toEqual([
      'incidents',
      'versions',
      '--status',
      'cli-echo cli-held',
    ]);
    expect(zsh.stdout).toContain('compdef _firebreak firebreak');
    expect(fish.stdout).toContain("complete -c firebreak -n __fish_use_subcommand -a 'login");
    expect(tcsh.code).toBe(2);
  });

  it('--help documents the exit codes', async () => {
    const r = await cli('admin', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('exit codes:');
    expect(r.stdout).toContain('4 not found (404)');
  });

  it('logout revokes the token server-side and forgets it', async () => {
    const before = JSON.parse(readFileSync(credentials('lead'), 'utf8')) as {
      servers: Record<string, { token: string }>;
    };
    const token = before.servers[url].token;
    const ok = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const r = await cli('lead', ['logout']);
    expect(r.stderr).toContain('token revoked');
    expect(r.code).toBe(0);
    const after = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { code: string }).code).toBe('AUTH_TOKEN_REVOKED');
    expect(readFileSync(credentials('lead'), 'utf8')).not.toContain(token);
    const again = await cli('lead', ['whoami']);
    expect(again.code).toBe(3);
  });
});
