import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { runCli } from '../src/cli/firebreak-cli.js';
import { ExecutionsProcessor } from '../src/executions/executions.processor.js';
import { ensureBinary } from './support/binaries.js';
import { registerFleet, readSse, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

const SHIPPED = join(import.meta.dirname, '..', 'runbooks');

const RUNBOOKS: Record<string, string> = {
  'echo-value': `name: echo-value
description: Prints an option verbatim on each node
kind: diagnostic
options:
  - { name: v, type: string, required: true, max: 4096 }
  - { name: secret, type: secure }
steps:
  - name: print
    run: printf '%s\\n' {{ options.v }}
  - name: whoami
    run: echo {{ node.name }} {{ node.attributes.environment }} {{ options.secret }}
`,
  'slow-count': `name: slow-count
description: Counts slowly, for live streaming and cancel
kind: diagnostic
options:
  - { name: n, type: integer, default: 20 }
  - { name: marker, type: string, default: '31.4' }
steps:
  - name: count
    run: for i in $(seq 1 {{ options.n }}); do echo "line $i"; sleep 0.05; done
  - name: park
    run: sleep {{ options.marker }}
    timeout: 2m
`,
  'too-slow': `name: too-slow
description: Exceeds its own timeout
kind: diagnostic
timeout: 1s
steps:
  - name: wait
    run: sleep 27.3
`,
  'gated-restart': `name: gated-restart
description: A remediation with a check and captures
kind: remediation
targets:
  strategy: rolling
  batchSize: 2
steps:
  - name: version
    run: echo version=1.2.3
    capture:
      v: { regex: 'version=(\\S+)' }
  - name: use-capture
    run: echo got {{ steps.version.captures.v }}
  - name: healthy
    check:
      run: echo active
      expect: { stdout: ^active$ }
  - name: script
    script: |
      set -e
      echo "from a script on $(hostname)"
`,
  'script-home': `name: script-home
description: Where an uploaded script lives while it runs
kind: diagnostic
steps:
  - name: where
    script: |
      d=$(dirname "$0")
      echo "dir=$d mode=$(stat -c %a "$d")"
`,
  'fails-then-cleans': `name: fails-then-cleans
description: A failing step and onError
kind: diagnostic
steps:
  - name: boom
    run: echo before; exit 7
  - name: never
    run: echo unreachable
onError:
  - name: collect
    run: echo collecting
`,
};

describe('executions over real SSH (real app, Postgres, OpenSSH sshd)', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    await ensureBinary('free', 'procps');
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-exec-runbooks-'));
    cpSync(SHIPPED, dir, { recursive: true });
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({ RUNBOOKS_DIR: dir, HEARTBEAT_TIMEOUT: '5' });
    await registerFleet(t, sshd, ['web-1', 'web-2', 'web-3']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (body: object, auth = t.adminAuth) =>
    t.http().post('/executions').set('Authorization', auth).send(body);
  const logsOf = async (id: string, query: Record<string, string> = {}) =>
    (await t.http().get(`/executions/${id}/logs`).query(query).set('Authorization', t.adminAuth))
      .body.items as Array<{
      seq: number;
      node: string | null;
      step: string | null;
      stream: string;
      line: string;
    }>;
  const streamUrl = (id: string) =>
    `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}/executions/${id}/stream`;

  it('runs diagnose-host on several nodes, with results per node and step', async () => {
    const res = await start({ runbook: 'diagnose-host', nodes: ['web-1', 'web-2', 'web-3'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      runbook: 'diagnose-host',
      version: 1,
      targets: ['web-1', 'web-2', 'web-3'],
      actor: 'admin',
    });
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('succeeded');
    const results = done.results.filter((r) => r.step === 'uptime');
    expect(results.map((r) => r.node).sort()).toEqual(['web-1', 'web-2', 'web-3']);
    expect(results.every((r) => r.status === 'succeeded' && r.exitCode === 0)).toBe(true);
    const lines = await logsOf(res.body.id as string, { node: 'web-2', step: 'uptime' });
    expect(lines.some((l) => /load average/.test(l.line))).toBe(true);
    const text = await t
      .http()
      .get(`/executions/${res.body.id}/logs?format=text`)
      .set('Authorization', t.adminAuth);
    expect(text.headers['content-type']).toMatch(/text\/plain/);
    expect(text.text).toMatch(/web-3 memory stdout: .*Mem:/);
  });

  it('a plan without nodes resolves the targets from the inventory', async () => {
    const res = await t
      .http()
      .post('/runbooks/echo-value/plan')
      .set('Authorization', t.adminAuth)
      .send({ options: { v: 'x; rm -rf / #' } });
    expect(res.status).toBe(200);
    expect(res.body.plan.targets.map((n: { name: string }) => n.name)).toEqual([
      'web-1',
      'web-2',
      'web-3',
    ]);
    expect(res.body.plan.steps[1].actions[0]).toEqual({
      node: 'web-1',
      command: 'echo web-1 staging ****',
    });
    expect(res.body.plan.steps[0].actions[0].command).toBe("printf '%s\\n' 'x; rm -rf / #'");
  });

  it('every hostile option value reaches the remote shell as one literal argument', async () => {
    const hostile = [
      'x; rm -rf / #',
      '$(id)',
      '`id`',
      'a && echo PWNED',
      'a | cat /etc/passwd',
      `it's "q"`,
      '*',
      '~root',
      "' ; echo PWNED ; '",
    ];
    for (const v of hostile) {
      const res = await start({ runbook: 'echo-value', options: { v }, nodes: ['web-1'] });
      expect(res.status).toBe(201);
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status).toBe('succeeded');
      const out = (await logsOf(res.body.id as string, { step: 'print' }))
        .filter((l) => l.stream === 'stdout')
        .map((l) => l.line);
      expect(out).toEqual([v]);
    }
  });

  it('masks a secure option in output, in the execution record and in the audit trail', async () => {
    const secret = 'pa55-Wörd!';
    const res = await start({
      runbook: 'echo-value',
      options: { v: 'hi', secret },
      nodes: ['web-1'],
    });
    expect(res.body.options).toEqual({ v: 'hi', secret: '****' });
    await waitFinished(t, res.body.id as string);
    const lines = await logsOf(res.body.id as string);
    expect(lines.find((l) => l.step === 'whoami' && l.stream === 'stdout')?.line).toBe(
      'web-1 staging ****',
    );
    expect(JSON.stringify(lines)).not.toContain(secret);
    const audit = await t
      .http()
      .get(`/audit?subjectId=${res.body.id}`)
      .set('Authorization', t.adminAuth);
    expect(JSON.stringify(audit.body)).not.toContain(secret);
    const rerun = await t
      .http()
      .post(`/executions/${res.body.id}/rerun`)
      .set('Authorization', t.adminAuth);
    expect(rerun.status).toBe(201);
    await waitFinished(t, rerun.body.id as string);
    const again = await logsOf(rerun.body.id as string, { step: 'whoami' });
    expect(again.find((l) => l.stream === 'stdout')?.line).toBe('web-1 staging ****');
  });

  it('streams output live over SSE, and a reconnect with Last-Event-ID resumes without gaps or duplicates', async () => {
    const res = await start({
      runbook: 'slow-count',
      options: { n: 30, marker: '0.1' },
      nodes: ['web-1'],
    });
    const id = res.body.id as string;
    const first = await readSse(streamUrl(id), t.adminAuth, { stopAfter: 5 });
    expect(first).toHaveLength(5);
    const lastId = first[first.length - 1].id!;
    const rest = await readSse(streamUrl(id), t.adminAuth, { lastEventId: lastId });
    const end = rest[rest.length - 1];
    expect(end).toMatchObject({ event: 'end', data: { status: 'succeeded' } });
    const seqs = [...first, ...rest.slice(0, -1)].map((e) => Number(e.id));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const counted = [...first, ...rest].filter(
      (e) => e.event === 'log' && /^line \d+$/.test((e.data as { line: string }).line),
    );
    expect(counted.map((e) => (e.data as { line: string }).line)).toEqual(
      Array.from({ length: 30 }, (_, i) => `line ${i + 1}`),
    );
    const all = await logsOf(id);
    expect(all.length).toBe(seqs.length);
  });

  it('rolling batches, captures, checks and scripts', async () => {
    const res = await start({ runbook: 'gated-restart', nodes: ['web-1', 'web-2', 'web-3'] });
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('succeeded');
    const lines = await logsOf(res.body.id as string);
    expect(lines.filter((l) => l.line === 'got 1.2.3')).toHaveLength(3);
    expect(lines.filter((l) => /^batch \d\/2/.test(l.line)).map((l) => l.line)).toEqual([
      'batch 1/2: web-1, web-2',
      'batch 2/2: web-3',
    ]);
    expect(
      lines.filter((l) => l.step === 'script' && /^from a script on /.test(l.line)),
    ).toHaveLength(3);
  });

  it('an uploaded script runs from a fresh 0700 directory of its own, removed afterwards', async () => {
    const res = await start({ runbook: 'script-home', nodes: ['web-1', 'web-2'] });
    expect(res.status).toBe(201);
    expect((await waitFinished(t, res.body.id as string)).status).toBe('succeeded');
    const lines = (await logsOf(res.body.id as string)).filter((l) => l.stream === 'stdout');
    expect(lines).toHaveLength(2);
    const dirs = lines.map((l) => {
      const m = /^dir=(\/tmp\/firebreak-[0-9a-f]{32}) mode=700$/.exec(l.line);
      expect(m, l.line).not.toBeNull();
      return m![1];
    });
    expect(new Set(dirs).size).toBe(2); // one per node and run, never a shared or guessable path
    for (const d of dirs) expect(existsSync(d)).toBe(false); // the sshd is on this host
  });

  it('a failing step stops the run, runs onError, and records the exit code', async () => {
    const res = await start({ runbook: 'fails-then-cleans', nodes: ['web-1'] });
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('failed');
    expect(done.results.find((r) => r.step === 'boom')).toMatchObject({
      status: 'failed',
      exitCode: 7,
      error: 'exit code 7',
    });
    expect(done.results.find((r) => r.step === 'never')).toBeUndefined();
    expect(done.results.find((r) => r.step === 'collect')).toMatchObject({ status: 'succeeded' });
  });

  it('cancel stops the remote process', async () => {
    const res = await start({
      runbook: 'slow-count',
      options: { n: 1, marker: '41.3' },
      nodes: ['web-1'],
    });
    const id = res.body.id as string;
    const deadline = Date.now() + 20_000;
    while (!pgrep('sleep 41.3') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(pgrep('sleep 41.3')).toBe(true);
    const cancel = await t
      .http()
      .post(`/executions/${id}/cancel`)
      .set('Authorization', t.adminAuth);
    expect(cancel.status).toBe(201);
    const done = await waitFinished(t, id);
    expect(done.status).toBe('canceled');
    const gone = Date.now() + 5000;
    while (pgrep('sleep 41.3') && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(pgrep('sleep 41.3')).toBe(false);
    const audit = await t
      .http()
      .get(`/audit?action=execution.cancel&subjectId=${id}`)
      .set('Authorization', t.adminAuth);
    expect(audit.body.items).toHaveLength(1);
  });

  it("the runbook's timeout ends the run as timed_out and kills the command", async () => {
    const res = await start({ runbook: 'too-slow', nodes: ['web-1'] });
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('timed_out');
    const gone = Date.now() + 5000;
    while (pgrep('sleep 27.3') && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(pgrep('sleep 27.3')).toBe(false);
  });

  it('a node with a changed host key or no sshd fails with a clear reason and does not stall the others', async () => {
    await t
      .http()
      .post('/nodes')
      .set('Authorization', t.adminAuth)
      .send({
        name: 'imposter',
        hostname: sshd.host,
        port: sshd.port,
        user: sshd.username,
        credential: 'fleet-key',
        hostKey: 'SHA256:' + 'A'.repeat(43),
        attributes: { environment: 'staging' },
      });
    await t
      .http()
      .post('/nodes')
      .set('Authorization', t.adminAuth)
      .send({
        name: 'dead',
        hostname: '127.0.0.1',
        port: 1,
        user: sshd.username,
        credential: 'fleet-key',
        hostKey: sshd.hostKeyFingerprint,
        attributes: { environment: 'staging' },
      });
    const res = await start({ runbook: 'diagnose-host', nodes: ['web-1', 'imposter', 'dead'] });
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('failed');
    const byNode = (n: string) => done.results.filter((r) => r.node === n);
    expect(byNode('web-1').every((r) => r.status === 'succeeded')).toBe(true);
    expect(byNode('imposter')[0].error).toMatch(/host key mismatch/);
    expect(byNode('dead')[0].error).toMatch(/refused/);
    const audit = await t
      .http()
      .get('/audit?action=node.hostkey.mismatch')
      .set('Authorization', t.adminAuth);
    expect(audit.body.items.length).toBeGreaterThan(0);
  });

  it('authorizes against the concrete runbook, and hides executions from those who may not see them', async () => {
    const viewer = await t.userWithRoles(['viewer']);
    const denied = await start({ runbook: 'diagnose-host', nodes: ['web-1'] }, viewer.auth);
    expect(denied.status).toBe(403);
    const audit = await t
      .http()
      .get(`/audit?action=access.denied&actor=${viewer.username}`)
      .set('Authorization', t.adminAuth);
    expect(audit.body.items[0]).toMatchObject({
      subjectType: 'Runbook',
      subjectId: 'diagnose-host',
    });

    const secretRb = `name: secret-diag\ndescription: x\nkind: diagnostic\naccess: { view: [operator] }\nsteps:\n  - name: a\n    run: echo hidden-output\n`;
    await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(secretRb);
    const run = await start({ runbook: 'secret-diag', nodes: ['web-1'] });
    await waitFinished(t, run.body.id as string);
    for (const path of ['', '/logs', '/stream']) {
      const r = await t
        .http()
        .get(`/executions/${run.body.id}${path}`)
        .set('Authorization', viewer.auth);
      expect(r.status).toBe(404);
      expect(JSON.stringify(r.body)).not.toContain('hidden-output');
    }
    const list = await t.http().get('/executions').set('Authorization', viewer.auth);
    expect((list.body as Array<{ runbook: string }>).map((e) => e.runbook)).not.toContain(
      'secret-diag',
    );
  });

  it('a page of executions is full even when many newer ones are hidden from the caller', async () => {
    // Sets up what it reads: a runbook viewers may not see, with many newer runs, and a few
    // older runs viewers may see.
    const saved = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(
        `name: hidden-page\ndescription: x\nkind: diagnostic\naccess: { view: [operator] }\nsteps:\n  - name: a\n    run: echo hidden\n`,
      );
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    const ds = t.app.get(DataSource);
    const versionOf = async (name: string) =>
      (
        (await ds.query(
          `SELECT v.id FROM runbook_versions v JOIN runbooks r ON r.id = v.runbook_id
            WHERE r.name = $1 ORDER BY v.version DESC LIMIT 1`,
          [name],
        )) as Array<{ id: string }>
      )[0].id;
    const insertRuns = (name: string, versionId: string, n: number, from: string) =>
      ds.query(
        `INSERT INTO executions (id, runbook_name, runbook_version, version_id, status, options, targets, actor_name, trigger, created_at)
         SELECT gen_random_uuid(), $1, 1, $2, 'succeeded', '{}', '[]', 'admin', 'api', now() + $3::interval + (n || ' ms')::interval
         FROM generate_series(1, $4::int) AS n`,
        [name, versionId, from, n],
      );
    await insertRuns('diagnose-host', await versionOf('diagnose-host'), 5, '1 hour');
    await insertRuns('hidden-page', await versionOf('hidden-page'), 120, '2 hours');
    const viewer = await t.userWithRoles(['viewer']);
    const page = await t.http().get('/executions?limit=5').set('Authorization', viewer.auth);
    expect(page.status).toBe(200);
    expect(page.body).toHaveLength(5);
    expect(
      (page.body as Array<{ runbook: string }>).every((e) => e.runbook === 'diagnose-host'),
    ).toBe(true);
  });

  it('refuses bad requests by name: unknown runbook, bad options, nodes outside the targets', async () => {
    expect((await start({ runbook: 'no-such' })).status).toBe(404);
    const bad = await start({ runbook: 'echo-value', options: { v: 'x', nope: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([{ path: 'options.nope', message: 'unknown option' }]);
    const outside = await start({ runbook: 'echo-value', options: { v: 'x' }, nodes: ['ghost'] });
    expect(outside.status).toBe(400);
    expect(outside.body.message).toMatch(/ghost/);
  });

  it('`firebreak run --follow` prints live output and exits 0 on success', async () => {
    const token = (
      await t
        .http()
        .post('/auth/tokens')
        .set('Authorization', t.adminAuth)
        .send({ name: 'cli-run' })
    ).body.token as string;
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (
      out.push(chunk),
      true
    )) as typeof process.stdout.write;
    let code: number;
    try {
      code = await runCli(
        ['run', 'echo-value', '-o', 'v=hello from the cli', '--node', 'web-2', '--follow'],
        {
          FIREBREAK_URL: url,
          FIREBREAK_TOKEN: token,
        },
      );
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    expect(out.join('')).toContain('web-2 print | hello from the cli');
    const list = await t
      .http()
      .get('/executions?runbook=echo-value&limit=1')
      .set('Authorization', t.adminAuth);
    expect(list.body[0]).toMatchObject({ trigger: 'cli', targets: ['web-2'], status: 'succeeded' });
  });

  it('a running execution whose worker went silent is marked interrupted, never left running', async () => {
    const res = await start({ runbook: 'echo-value', options: { v: 'x' }, nodes: ['web-1'] });
    await waitFinished(t, res.body.id as string);
    const ds = t.app.get(DataSource);
    await ds.query(
      `UPDATE executions SET status = 'running', finished_at = NULL, worker = 'gone:1', heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
      [res.body.id],
    );
    expect(await t.app.get(ExecutionsProcessor).reap()).toBeGreaterThanOrEqual(1);
    const after = await t
      .http()
      .get(`/executions/${res.body.id}`)
      .set('Authorization', t.adminAuth);
    expect(after.body).toMatchObject({
      status: 'interrupted',
      error: 'worker gone:1 stopped reporting',
    });
  });
});

function pgrep(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', `^sleep ${pattern.replace(/^sleep /, '')}`]);
    return true;
  } catch {
    return false;
  }
}
