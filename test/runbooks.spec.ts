import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/firebreak-cli.js';
import { startTestApp, type TestApp } from './support/app.js';

const SHIPPED = join(import.meta.dirname, '..', 'runbooks');

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
    encoding: 'utf8',
  }).trim();

/** A runbook with an unconstrained string option and a secure one, for quoting and masking. */
const ECHO = `name: echo-message
description: Prints a message on each node
kind: diagnostic
options:
  - { name: message, type: string, required: true }
  - { name: password, type: secure }
steps:
  - name: say
    run: echo {{ options.message }} {{ node.name }}
  - name: login
    run: mysql --password={{ options.password }} -e 'select 1'
`;

describe('runbooks as versioned code (real app, real Postgres, a git work tree)', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-runbooks-'));
    cpSync(SHIPPED, dir, { recursive: true });
    writeFileSync(join(dir, 'echo-message.yaml'), ECHO);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'runbooks');
    t = await startTestApp({ RUNBOOKS_DIR: dir });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, auth = t.adminAuth) => t.http().get(path).set('Authorization', auth);
  const post = (path: string, body: object = {}, auth = t.adminAuth) =>
    t.http().post(path).set('Authorization', auth).send(body);

  it('syncs the shipped runbooks at start, each at version 1 with its git commit', async () => {
    const res = await get('/runbooks');
    expect(res.status).toBe(200);
    expect(res.body.map((r: { name: string }) => r.name)).toEqual([
      'cache-clear',
      'diagnose-host',
      'echo-message',
      'model-rollback',
      'restart-service',
    ]);
    const versions = await get('/runbooks/restart-service/versions');
    expect(versions.body).toHaveLength(1);
    expect(versions.body[0]).toMatchObject({
      version: 1,
      sourceKind: 'file',
      sourcePath: 'restart-service.yaml',
      gitCommit: git(dir, 'rev-parse', 'HEAD'),
      author: 'system',
    });
  });

  it('an edit creates exactly one new version, a second sync none, and the diff shows the edit', async () => {
    const file = join(dir, 'restart-service.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('timeout: 15m', 'timeout: 20m'));
    const first = await post('/runbooks/sync');
    expect(first.status).toBe(200);
    expect(first.body.created).toEqual([
      { name: 'restart-service', version: 2, file: 'restart-service.yaml' },
    ]);
    expect(first.body.problems).toEqual([]);
    const again = await post('/runbooks/sync');
    expect(again.body.created).toEqual([]);

    const versions = await get('/runbooks/restart-service/versions');
    expect(versions.body.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(versions.body[0].gitCommit).toBeNull(); // uncommitted change: no commit to point at

    const diff = await get('/runbooks/restart-service/diff?from=1&to=2');
    expect(diff.status).toBe(200);
    expect(diff.headers['content-type']).toMatch(/text\/x-diff/);
    expect(diff.text).toContain('-timeout: 15m');
    expect(diff.text).toContain('+timeout: 20m');
    expect(diff.text.match(/^[-+][^-+]/gm)).toHaveLength(2);

    const audit = await get('/audit?action=runbook.version.create&subjectId=restart-service');
    expect(audit.body.items[0].details).toMatchObject({ version: 2, source: 'file' });
  });

  it('a change of comments or formatting only is not a new version', async () => {
    const file = join(dir, 'diagnose-host.yaml');
    writeFileSync(
      file,
      `# reviewed by the SRE team\n${readFileSync(file, 'utf8').replace('tags: [linux, triage]', 'tags:\n  - linux\n  - triage')}`,
    );
    const res = await post('/runbooks/sync');
    expect(res.body.created).toEqual([]);
    expect(res.body.unchanged).toContain('diagnose-host');
  });

  it('an invalid file never replaces the valid version; its problems carry file:line:col', async () => {
    const file = join(dir, 'cache-clear.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('timeout: 5m', 'timeout: 5m\nretries: 3'));
    const line = good.split('\n').indexOf('timeout: 5m') + 2;
    const res = await post('/runbooks/sync');
    expect(res.body.created).toEqual([]);
    expect(res.body.problems).toEqual([
      expect.objectContaining({
        file: 'cache-clear.yaml',
        path: 'retries',
        line,
        col: 1,
        message: 'unknown key "retries"',
      }),
    ]);
    expect((await get('/runbooks/sync')).body.problems).toHaveLength(1);
    const current = await get('/runbooks/cache-clear');
    expect(current.body.currentVersion).toBe(1);
    expect(current.body.version.source).toBe(good);
    writeFileSync(file, good);
  });

  it('creates and updates a runbook from YAML through the API; invalid YAML stores nothing', async () => {
    const yaml = `name: api-made\ndescription: made over the API\nkind: diagnostic\nsteps:\n  - name: hi\n    run: echo hi\n`;
    const send = (body: string) =>
      t
        .http()
        .post('/runbooks')
        .set('Authorization', t.adminAuth)
        .set('Content-Type', 'application/yaml')
        .send(body);
    const created = await send(yaml);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'api-made', version: 1, created: true });
    expect((await send(yaml)).body).toMatchObject({ version: 1, created: false });
    expect((await send(yaml.replace('echo hi', 'echo hello'))).body).toMatchObject({
      version: 2,
      created: true,
    });

    const bad = await send(
      `name: broken-one\ndescription: x\nkind: diagnostic\nsteps:\n  - name: a\n    rn: echo\n`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]).toMatchObject({ line: 6, col: 5, path: 'steps[0].rn' });
    expect(bad.body.details[0].message).toMatch(/unknown key "rn" \(did you mean .*"run"\?\)/);
    expect((await get('/runbooks/broken-one')).status).toBe(404);

    const json = await t.http().post('/runbooks').set('Authorization', t.adminAuth).send({ yaml });
    expect(json.status).toBe(415);
  });

  it('a plan quotes `x; rm -rf / #` as one word and shows a secure value nowhere', async () => {
    const secret = 'S3cr3t-hunter2!';
    const res = await post('/runbooks/echo-message/plan', {
      options: { message: 'x; rm -rf / #', password: secret },
      nodes: [{ name: 'web-1' }, { name: 'web-2' }],
    });
    expect(res.status).toBe(200);
    const say = res.body.plan.steps[0].actions;
    expect(say).toEqual([
      { node: 'web-1', command: "echo 'x; rm -rf / #' web-1" },
      { node: 'web-2', command: "echo 'x; rm -rf / #' web-2" },
    ]);
    expect(res.body.plan.steps[1].actions[0].command).toBe("mysql --password=**** -e 'select 1'");
    expect(JSON.stringify(res.body)).not.toContain(secret);
    const audit = await get('/audit?action=runbook.plan&subjectId=echo-message');
    expect(audit.body.items).toHaveLength(1);
    expect(JSON.stringify(audit.body)).not.toContain(secret);
    // Masked twice over: the plan shows secure options as ****, and the audit log masks any
    // value under a secret-looking key.
    expect(audit.body.items[0].details.options).toEqual({
      message: 'x; rm -rf / #',
      password: '***',
    });
  });

  it('a plan says when approval is needed and why, and validates options by name and rule', async () => {
    const res = await post('/runbooks/restart-service/plan', {
      options: { service: 'nginx' },
      nodes: [
        { name: 'web-1', attributes: { environment: 'staging' } },
        { name: 'web-2', attributes: { environment: 'production' } },
      ],
    });
    expect(res.body.plan.approval).toEqual({
      required: true,
      reasons: ['restarting a service on a production node holds for web-2'],
      approvers: ['sre-lead', 'admin'],
    });
    expect(res.body.plan.steps[1].actions[1]).toEqual({
      node: 'web-2',
      command: 'sudo systemctl restart -- nginx',
    });

    const staging = await post('/runbooks/restart-service/plan', {
      options: { service: 'nginx' },
      nodes: [{ name: 'web-1', attributes: { environment: 'staging' } }],
    });
    expect(staging.body.plan.approval.required).toBe(false);

    const bad = await post('/runbooks/restart-service/plan', {
      options: { service: 'nginx; reboot', batch: 50, sevice: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([
      { path: 'options.sevice', message: 'unknown option (did you mean "service"?)' },
      { path: 'options.service', message: 'must match [A-Za-z0-9@._-]+' },
      { path: 'options.batch', message: 'must be at most 10' },
    ]);
  });

  it('follows access: viewers see but cannot run or change; restricted runbooks stay hidden', async () => {
    const restricted = `name: secret-ops\ndescription: x\nkind: remediation\naccess: { view: [operator], run: [sre-lead] }\nsteps:\n  - name: a\n    run: echo\n`;
    await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(restricted);
    const viewer = await t.userWithRoles(['viewer']);
    const list = await get('/runbooks', viewer.auth);
    expect(list.body.map((r: { name: string }) => r.name)).not.toContain('secret-ops');
    expect(list.body.find((r: { name: string }) => r.name === 'diagnose-host').canRun).toBe(false);
    expect((await get('/runbooks/secret-ops', viewer.auth)).status).toBe(404);
    expect((await get('/runbooks/secret-ops/versions', viewer.auth)).status).toBe(404);
    expect((await post('/runbooks/sync', {}, viewer.auth)).status).toBe(403);
    expect((await post('/runbooks/diagnose-host/disable', {}, viewer.auth)).status).toBe(403);

    const responder = await t.userWithRoles(['responder']);
    const rb = await get('/runbooks/diagnose-host', responder.auth);
    expect(rb.body.canRun).toBe(true);
  });

  it('disabling keeps history and is audited', async () => {
    const off = await post('/runbooks/api-made/disable', { reason: 'replaced' });
    expect(off.body).toEqual({ name: 'api-made', disabled: true, disabledReason: 'replaced' });
    expect((await get('/runbooks')).body.map((r: { name: string }) => r.name)).not.toContain(
      'api-made',
    );
    expect(
      (await get('/runbooks?includeDisabled=true')).body.map((r: { name: string }) => r.name),
    ).toContain('api-made');
    expect((await get('/runbooks/api-made/versions')).body).toHaveLength(2);
    await post('/runbooks/api-made/enable');
    const audit = await get('/audit?action=runbook&subjectId=api-made');
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['runbook.disable', 'runbook.enable']),
    );
  });

  it('`firebreak plan` prints the plan from a running server', async () => {
    const token = (await post('/auth/tokens', { name: 'cli' })).body.token as string;
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      const code = await runCli(
        ['plan', 'echo-message', '-o', 'message=hello world', '--node', 'db-1:environment=staging'],
        {
          FIREBREAK_URL: url,
          FIREBREAK_TOKEN: token,
        },
      );
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toContain("db-1: $ echo 'hello world' db-1");
  });
});
