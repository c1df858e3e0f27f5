import { DataSource } from 'typeorm';
import { runCli } from '../src/cli/firebreak-cli.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSse, registerFleet, waitFinished } from './support/fleet.js';
import { startSshd, type SshServer } from './support/sshd.js';
import { startTestApp, type TestApp } from './support/app.js';

/**
 * Guard rails an attacker with a responder's account would try to walk around (issue #12): an
 * older version of a runbook escaping today's rules, option values as globs in target names,
 * option values that are options to the command, and runbooks their runners could not see.
 * Each denial is audited. Real app, Postgres and OpenSSH sshd.
 */
const PINNED_V1 = `name: pinned-policy
description: Runs for responders in v1; v2 is admin-only and needs approval
kind: diagnostic
steps:
  - name: hello
    run: echo pinned-v1-ran
`;
const PINNED_V2 = `name: pinned-policy
description: Runs for responders in v1; v2 is admin-only and needs approval
kind: diagnostic
access: { run: [admin] }
approval: { reason: change freeze }
steps:
  - name: hello
    run: echo pinned-v2-ran
`;
const BY_HOST = `name: by-host
description: Targets the node named by an option
kind: diagnostic
options:
  - { name: host, type: string, required: true }
targets:
  nodes: { names: ['{{ options.host }}'] }
steps:
  - name: hello
    run: echo {{ node.name }}
`;
const ARGS = `name: pass-args
description: Passes values to commands that take options
kind: diagnostic
options:
  - { name: path, type: string, default: /tmp }
  - { name: files, type: list, default: [] }
  - { name: flag, type: string, default: '-l', allowLeadingDash: true }
steps:
  - name: list
    run: ls {{ options.flag }} -d -- {{ options.path }} {{ options.files }}
`;
const SECURE_ARGS = `name: secure-args
description: Passes secrets to a command that takes options
kind: diagnostic
options:
  - { name: token, type: secure, required: true }
  - { name: dashed, type: secure, allowLeadingDash: true }
steps:
  - name: pass
    run: printf 'token=%s dashed=%s\\n' {{ options.token }} {{ options.dashed }}
`;
const PY_SCRIPT = `name: py-env
description: A python script reads its values from the environment
kind: diagnostic
options:
  - { name: msg, type: string, required: true }
steps:
  - name: py
    interpreter: /usr/bin/python3
    script: |
      import os
      print("msg=" + os.environ["FIREBREAK_OPTION_MSG"])
      print("node=" + os.environ["FIREBREAK_NODE_NAME"])
`;
const RUN_NOT_VIEW = `name: run-not-view
description: Hidden from viewers, run by responders
kind: diagnostic
access: { view: [admin], run: [responder] }
steps:
  - name: hello
    run: echo responders-see-me
`;

describe('guard rails (real app, Postgres, OpenSSH sshd)', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;
  let responder: { id: string; username: string; auth: string };

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-guards-runbooks-'));
    for (const [name, text] of Object.entries({
      'pinned-policy': PINNED_V1,
      'by-host': BY_HOST,
      'pass-args': ARGS,
      'secure-args': SECURE_ARGS,
      'run-not-view': RUN_NOT_VIEW,
      'py-env': PY_SCRIPT,
    }))
      writeFileSync(join(dir, `${name}.yaml`), text);
    // HEARTBEAT_TIMEOUT 2: the reaper ticks every second (this worker's own runs are never reaped).
    t = await startTestApp({ RUNBOOKS_DIR: dir, HEARTBEAT_TIMEOUT: '2' });
    await registerFleet(t, sshd, ['web-1', 'web-2', 'db-1']);
    responder = await t.userWithRoles(['responder']);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: object, auth = t.adminAuth) =>
    t.http().post(path).set('Authorization', auth).send(body);
  const get = (path: string, auth = t.adminAuth) => t.http().get(path).set('Authorization', auth);
  const saveRunbook = async (yaml: string) => {
    const res = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(yaml);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { version: number };
  };
  const denials = async (actor: string, subjectId: string) =>
    (
      (await get(`/audit?action=access.denied&actor=${actor}&subjectId=${subjectId}&limit=100`))
        .body.items as Array<{ outcome: string; details: { version?: number; reason: string } }>
    ).reverse();

  describe('an older version never escapes the current policy (item 1)', () => {
    it('access, approval and disabled come from the current version, for start, rerun and incident runs', async () => {
      // While v1 is current, the responder may run it.
      const first = await post('/executions', { runbook: 'pinned-policy' }, responder.auth);
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect((await waitFinished(t, first.body.id as string, responder.auth)).status).toBe(
        'succeeded',
      );
      expect((await saveRunbook(PINNED_V2)).version).toBe(2);

      // Pinning v1 does not escape v2's admin-only access: refused and audited.
      const pinned = await post(
        '/executions',
        { runbook: 'pinned-policy', version: 1 },
        responder.auth,
      );
      expect(pinned.status).toBe(403);
      expect(pinned.body.message).toMatch(/you may not run pinned-policy/);
      // Rerunning the v1 execution is the same request: refused.
      const rerun = await post(`/executions/${first.body.id}/rerun`, {}, responder.auth);
      expect(rerun.status).toBe(403);
      // A run for an incident goes through the same check.
      const inc = await post('/incidents', { title: 'x', severity: 'SEV3' }, responder.auth);
      expect(inc.status).toBe(201);
      const forIncident = await post(
        `/incidents/${inc.body.ref}/executions`,
        { runbook: 'pinned-policy', version: 1 },
        responder.auth,
      );
      expect(forIncident.status).toBe(403);
      const audited = await denials(responder.username, 'pinned-policy');
      expect(audited.map((e) => [e.outcome, e.details.version])).toEqual([
        ['denied', 1],
        ['denied', 1],
        ['denied', 1],
      ]);

      // An admin may run it, but v2 demands approval, and pinning v1 does not skip it: held.
      const admin = await post('/executions', { runbook: 'pinned-policy', version: 1 });
      expect(admin.status).toBe(201);
      expect(admin.body.status).toBe('awaiting_approval');
      const held = await get(`/executions/${admin.body.id}`);
      expect(held.body.approvals[0].reason).toBe('change freeze');
      const adminRerun = await post(`/executions/${first.body.id}/rerun`, {});
      expect(adminRerun.status).toBe(201);
      expect(adminRerun.body.status).toBe('awaiting_approval');
      for (const id of [admin.body.id, adminRerun.body.id])
        expect((await post(`/executions/${id}/cancel`, {})).status).toBe(201);

      // Disabled is the runbook's, whatever the version.
      await saveRunbook(PINNED_V1.replace('pinned-v1-ran', 'pinned-v3-ran'));
      expect(
        (await post('/runbooks/pinned-policy/disable', { reason: 'under review' })).status,
      ).toBe(200);
      const disabled = await post('/executions', { runbook: 'pinned-policy', version: 1 });
      expect(disabled.status).toBe(409);
      expect(disabled.body.message).toMatch(/disabled: under review/);
      expect((await denials('admin', 'pinned-policy')).map((e) => e.details.reason)).toEqual([
        'runbook is disabled: under review',
      ]);
      expect((await post('/runbooks/pinned-policy/enable', {})).status).toBe(200);

      // The plan says the same: v1 planned under v2's rules is not runnable by the responder.
      await saveRunbook(PINNED_V2);
      const plan = await post('/runbooks/pinned-policy/plan', { version: 1 }, responder.auth);
      expect(plan.status).toBe(200);
      expect(plan.body.canRun).toBe(false);
      expect(plan.body.plan.approval.required).toBe(true);

      // Nothing but the first execution ever ran (the held ones were canceled waiting).
      const runs = (await get('/executions?runbook=pinned-policy')).body as Array<{
        status: string;
        startedAt: string | null;
      }>;
      expect(runs.filter((r) => r.startedAt !== null)).toHaveLength(1);
      expect(runs.map((r) => r.status).sort()).toEqual(['canceled', 'canceled', 'succeeded']);
    });
  });

  describe('option values in target names are literal names (item 2)', () => {
    it('a real name selects that node; globs and their walk-arounds select none', async () => {
      const ok = await post('/executions', { runbook: 'by-host', options: { host: 'web-2' } });
      expect(ok.status, JSON.stringify(ok.body)).toBe(201);
      expect(ok.body.targets).toEqual(['web-2']);
      for (const host of [
        '*',
        '**',
        '?',
        'web-?',
        'web-*',
        '*-1',
        '[a-z]*',
        'web-1,web-2',
        '!db-1',
        '\\*',
      ]) {
        const res = await post('/executions', { runbook: 'by-host', options: { host } });
        expect(res.status, host).toBe(400);
        expect(res.body.message, host).toMatch(/no node matches the targets of by-host/);
        const plan = await post('/runbooks/by-host/plan', { options: { host } });
        expect(plan.body.plan.targets, host).toEqual([]);
      }
      expect((await waitFinished(t, ok.body.id as string)).status).toBe('succeeded');
    });
  });

  describe('values that start with "-" (item 4)', () => {
    it('a string or list value starting with "-" is a 400 naming the option, unless it is allowed', async () => {
      const str = await post(
        '/executions',
        {
          runbook: 'pass-args',
          options: { path: '--checkpoint-action=exec=id' },
          nodes: ['web-1'],
        },
        responder.auth,
      );
      expect(str.status).toBe(400);
      expect(str.body.details).toEqual([
        { path: 'options.path', message: expect.stringMatching(/^must not start with "-"/) },
      ]);
      const list = await post(
        '/executions',
        { runbook: 'pass-args', options: { files: ['a', '-exec'] }, nodes: ['web-1'] },
        responder.auth,
      );
      expect(list.status).toBe(400);
      expect(list.body.details).toEqual([
        {
          path: 'options.files',
          message: expect.stringMatching(/^item 2 must not start with "-"/),
        },
      ]);
      // The plan refuses it the same way; nothing was started.
      const plan = await post('/runbooks/pass-args/plan', { options: { path: '-rf' } });
      expect(plan.status).toBe(400);
      expect(plan.body.details[0].path).toBe('options.path');
      expect((await get('/executions?runbook=pass-args')).body).toEqual([]);

      // An option that allows it passes it on; `--` keeps the positional values operands.
      const allowed = await post(
        '/executions',
        { runbook: 'pass-args', options: { flag: '-l', path: '/tmp' }, nodes: ['web-1'] },
        responder.auth,
      );
      expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
      expect((await waitFinished(t, allowed.body.id as string)).status).toBe('succeeded');
    });

    it('a secure value starting with "-" is a 400 naming the option, never echoing the value', async () => {
      const token = '--upload-pack=touch /tmp/pwn-s3cr3t-x';
      const res = await post(
        '/executions',
        { runbook: 'secure-args', options: { token }, nodes: ['web-1'] },
        responder.auth,
      );
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([
        { path: 'options.token', message: expect.stringMatching(/^must not start with "-"/) },
      ]);
      const plan = await post('/runbooks/secure-args/plan', { options: { token } });
      expect(plan.status).toBe(400);
      expect(plan.body.details[0].path).toBe('options.token');
      const audit = JSON.stringify((await get('/audit?limit=200')).body);
      for (const text of [JSON.stringify(res.body), JSON.stringify(plan.body), audit])
        expect(text).not.toContain('s3cr3t');
      expect((await get('/executions?runbook=secure-args')).body).toEqual([]);

      // The option that allows it passes it on, masked in the output.
      const allowed = await post(
        '/executions',
        {
          runbook: 'secure-args',
          options: { token: 'plain-s3cr3t', dashed: '-d-s3cr3t' },
          nodes: ['web-1'],
        },
        responder.auth,
      );
      expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
      expect((await waitFinished(t, allowed.body.id as string)).status).toBe('succeeded');
      const lines = (
        (await get(`/executions/${allowed.body.id}/logs?step=pass`)).body.items as Array<{
          stream: string;
          line: string;
        }>
      ).filter((l) => l.stream === 'stdout');
      expect(lines.map((l) => l.line)).toEqual(['token=**** dashed=****']);
    });
  });

  describe('commands that evaluate their argument (item 5)', () => {
    it('a runbook passing a value to sh -c or eval is refused with the step, line and option, and never stored', async () => {
      const yaml = `name: eval-msg
description: x
kind: diagnostic
options:
  - { name: msg, type: string }
steps:
  - name: shout
    run: sh -c {{ options.msg }}
  - name: again
    run: eval {{ options.msg }}
`;
      const res = await t
        .http()
        .post('/runbooks')
        .set('Authorization', t.adminAuth)
        .set('Content-Type', 'application/yaml')
        .send(yaml);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([
        expect.objectContaining({
          path: 'steps[0].run',
          line: 8,
          message: expect.stringContaining(
            'step "shout": {{ options.msg }} (option msg) is an argument of `sh -c`',
          ),
        }),
        expect.objectContaining({
          path: 'steps[1].run',
          line: 10,
          message: expect.stringContaining(
            'step "again": {{ options.msg }} (option msg) is an argument of `eval`',
          ),
        }),
      ]);
      expect((await get('/runbooks/eval-msg')).status).toBe(404);
    });

    it('a python script gets a hostile value as an environment variable, verbatim, never as code', async () => {
      const msg = `x"); import os; os.system("echo PWNED") #'; echo PWNED`;
      const res = await post('/executions', {
        runbook: 'py-env',
        options: { msg },
        nodes: ['web-1'],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect((await waitFinished(t, res.body.id as string)).status).toBe('succeeded');
      const lines = (
        (await get(`/executions/${res.body.id}/logs?step=py`)).body.items as Array<{
          stream: string;
          line: string;
        }>
      )
        .filter((l) => l.stream === 'stdout')
        .map((l) => l.line);
      expect(lines).toEqual([`msg=${msg}`, 'node=web-1']);
    });
  });

  describe('whoever may run a runbook may view it (item 8)', () => {
    it('view: [admin] with run: [responder]: responders list, read, plan and run it; viewers do not see it', async () => {
      const list = (await get('/runbooks', responder.auth)).body as Array<{
        name: string;
        canRun: boolean;
      }>;
      expect(list.find((r) => r.name === 'run-not-view')).toMatchObject({ canRun: true });
      expect((await get('/runbooks/run-not-view', responder.auth)).status).toBe(200);
      expect((await post('/runbooks/run-not-view/plan', {}, responder.auth)).status).toBe(200);
      const run = await post('/executions', { runbook: 'run-not-view' }, responder.auth);
      expect(run.status, JSON.stringify(run.body)).toBe(201);
      expect((await waitFinished(t, run.body.id as string, responder.auth)).status).toBe(
        'succeeded',
      );
      const viewer = await t.userWithRoles(['viewer']);
      expect((await get('/runbooks/run-not-view', viewer.auth)).status).toBe(404);
    });
  });

  describe('http steps reach only what the egress policy allows (item 9)', () => {
    const httpRunbook = (name: string, url: string) => `name: ${name}
description: One HTTP request
kind: diagnostic
steps:
  - name: call
    http:
      url: ${url}
`;

    it('a request to this host runs; the metadata address fails the step naming the policy', async () => {
      const port = (t.app.getHttpServer().address() as { port: number }).port;
      await saveRunbook(httpRunbook('http-self', `http://127.0.0.1:${port}/health`));
      await saveRunbook(httpRunbook('http-metadata', 'http://169.254.169.254/latest/meta-data/'));
      await saveRunbook(httpRunbook('http-metadata-v6', 'http://[fd00:ec2::254]/latest/'));

      const ok = await post('/executions', { runbook: 'http-self' });
      expect(ok.status).toBe(201);
      expect((await waitFinished(t, ok.body.id as string)).status).toBe('succeeded');

      for (const runbook of ['http-metadata', 'http-metadata-v6']) {
        const res = await post('/executions', { runbook });
        expect(res.status).toBe(201);
        const done = await waitFinished(t, res.body.id as string);
        expect(done.status, runbook).toBe('failed');
        expect(JSON.stringify(done.results), runbook).toMatch(
          /egress policy: .*link-local, metadata or unspecified address/,
        );
      }
    });
  });

  describe('secure values never leave the runner unmasked (item 3)', () => {
    const RUNBOOK = `name: leaky
description: Prints a secret in the ways commands do, then fails a check on it
kind: diagnostic
options:
  - { name: token, type: secure, required: true }
steps:
  - name: b64
    run: printf '%s' {{ options.token }} | base64
  - name: url
    run: |
      python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' {{ options.token }}
  - name: json
    run: |
      python3 -c 'import json, sys; print(json.dumps({"t": sys.argv[1]}))' {{ options.token }}
  - name: check
    check:
      run: |
        python3 -c 'import json, sys; print(json.dumps({"t": sys.argv[1]}))' {{ options.token }}
      expect:
        json:
          - { path: $.t, eq: expected }
`;

    it('not in step errors, logs, API responses or anywhere in the database', async () => {
      await saveRunbook(RUNBOOK);
      const token = 'Tr0ub4dor&3 x/+="q';
      const res = await post('/executions', {
        runbook: 'leaky',
        nodes: ['web-1'],
        options: { token },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const id = res.body.id as string;
      const done = await waitFinished(t, id);
      expect(done.status).toBe('failed');
      const b64 = Buffer.from(token).toString('base64');
      const forms = [
        token,
        b64,
        b64.replace(/=+$/, ''),
        encodeURIComponent(token),
        JSON.stringify(token).slice(1, -1),
      ];

      const responses = [
        JSON.stringify((await get(`/executions/${id}`)).body),
        JSON.stringify((await get(`/executions/${id}/logs?limit=1000`)).body),
        JSON.stringify((await get('/executions?limit=50')).body),
        JSON.stringify((await get('/audit?limit=200')).body),
      ];
      // The check failed on a JSON value that is the token: its error shows the value, masked.
      const check = (done.results as Array<{ step: string; error: string | null }>).find(
        (r) => r.step === 'check',
      );
      expect(check?.error).toMatch(/\$\.t is .*\*\*\*\*.*, expected "expected"/);
      // Each printing step's output reached the log, masked.
      const logs = (await get(`/executions/${id}/logs?limit=1000`)).body.items as Array<{
        step: string | null;
        stream: string;
        line: string;
      }>;
      for (const step of ['b64', 'url', 'json'])
        expect(
          logs.filter((l) => l.step === step && l.stream === 'stdout').map((l) => l.line),
          step,
        ).toEqual([step === 'json' ? '{"t": "****"}' : '****']);

      // A full dump of every table's rows, as text.
      const tables = (await t.app
        .get(DataSource)
        .query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)) as Array<{
        tablename: string;
      }>;
      const dump: string[] = [];
      for (const { tablename } of tables)
        for (const row of (await t.app
          .get(DataSource)
          .query(`SELECT t::text AS r FROM "${tablename}" t`)) as Array<{ r: string }>)
          dump.push(row.r);
      expect(dump.length).toBeGreaterThan(0);
      const all = [...responses, ...dump].join('\n');
      for (const f of forms) expect(all.includes(f), `found ${JSON.stringify(f)}`).toBe(false);
    });

    it('a secret cut by the 64 KiB line limit is masked, over SSH and on the Firebreak host', async () => {
      // The secret starts 10 bytes before the cut at 65536 bytes: each piece holds part of it.
      const LONG = `name: long-line
description: Prints one line longer than the line limit with a secret across the cut
kind: diagnostic
options:
  - { name: token, type: secure, required: true }
steps:
  - name: remote
    run: python3 -c 'import sys; print("x" * 65526 + sys.argv[1] + "y" * 100)' {{ options.token }}
  - name: here
    on: local
    run: python3 -c 'import sys; print("x" * 65526 + sys.argv[1] + "y" * 100)' {{ options.token }}
`;
      await saveRunbook(LONG);
      const token = 'cut-me-S3CR3T-in-two-pieces';
      const res = await post('/executions', {
        runbook: 'long-line',
        nodes: ['web-1'],
        options: { token },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const id = res.body.id as string;
      expect((await waitFinished(t, id)).status).toBe('succeeded');
      const logs = (await get(`/executions/${id}/logs?limit=1000`)).body.items as Array<{
        step: string | null;
        stream: string;
        line: string;
      }>;
      for (const step of ['remote', 'here']) {
        const pieces = logs
          .filter((l) => l.step === step && l.stream === 'stdout')
          .map((l) => l.line);
        expect(pieces.length, step).toBe(2);
        expect(pieces.join(''), step).toBe('x'.repeat(65526) + '****' + 'y'.repeat(100));
      }
      const text = (await get(`/executions/${id}/logs?format=text`)).text;
      for (const part of [token, token.slice(0, 10), token.slice(10)])
        expect(JSON.stringify(logs).includes(part) || text.includes(part), part).toBe(false);
    });

    it('masks a secret a local step prints to stderr, in the live stream and the text export', async () => {
      const STDERR = `name: stderr-secret
description: Prints a secret to stderr on the Firebreak host
kind: diagnostic
options:
  - { name: password, type: secure, required: true }
steps:
  - name: complain
    on: local
    run: printf 'login failed for %s\\n' {{ options.password }} >&2
`;
      await saveRunbook(STDERR);
      const password = 'hunter2-Str3am!';
      const res = await post('/executions', { runbook: 'stderr-secret', options: { password } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const id = res.body.id as string;
      const port = (t.app.getHttpServer().address() as { port: number }).port;
      const events = await readSse(`http://127.0.0.1:${port}/executions/${id}/stream`, t.adminAuth);
      expect(events[events.length - 1]).toMatchObject({
        event: 'end',
        data: { status: 'succeeded' },
      });
      const lines = events
        .filter((e) => e.event === 'log')
        .map((e) => e.data as { stream: string; line: string });
      expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual([
        'login failed for ****',
      ]);
      const text = (await get(`/executions/${id}/logs?format=text`)).text;
      expect(text).toContain('login failed for ****');
      expect(JSON.stringify(events) + text).not.toContain(password);
    });
  });

  /**
   * Guards that one test alone caught, or none (#12 "tests that let a guard go unnoticed"): each
   * here reaches the guard another way than the test that already covers it.
   */
  describe('second, independent tests', () => {
    const port = () => (t.app.getHttpServer().address() as { port: number }).port;
    // One operator for the tests that need one (making a user costs a password hash).
    let operatorUser: Promise<{ id: string; username: string; auth: string }> | undefined;
    const operator = () => (operatorUser ??= t.userWithRoles(['operator']));

    it('a step whose when: is false is skipped in a real run, and the steps after it run', async () => {
      await saveRunbook(`name: when-skip
description: Fixes only when asked
kind: diagnostic
options:
  - { name: mode, type: enum, values: [check, fix], default: check }
steps:
  - name: look
    run: echo looked
  - name: fix
    when: options.mode == "fix" and node.attributes.environment == "staging"
    run: echo FIXED
  - name: after
    run: echo after-ran
`);
      const stdoutOf = async (id: string) =>
        (
          (await get(`/executions/${id}/logs?limit=1000`)).body.items as Array<{
            step: string;
            stream: string;
            line: string;
          }>
        ).map((l) => `${l.step} ${l.stream} ${l.line}`);
      const check = await post('/executions', { runbook: 'when-skip', nodes: ['web-1', 'web-2'] });
      expect(check.status, JSON.stringify(check.body)).toBe(201);
      const done = await waitFinished(t, check.body.id as string);
      expect(done.status).toBe('succeeded');
      const byStep = (step: string) =>
        (done.results as Array<{ step: string; node: string; status: string }>)
          .filter((r) => r.step === step)
          .map((r) => `${r.node} ${r.status}`)
          .sort();
      expect(byStep('fix')).toEqual(['web-1 skipped', 'web-2 skipped']);
      expect(byStep('after')).toEqual(['web-1 succeeded', 'web-2 succeeded']);
      const lines = await stdoutOf(check.body.id as string);
      expect(lines.filter((l) => l.includes('FIXED'))).toEqual([]);
      expect(lines.filter((l) => l === 'after stdout after-ran')).toHaveLength(2);
      expect(lines.filter((l) => /^fix system skipped: .* is false$/.test(l))).toHaveLength(2);

      // The same runbook with the condition true runs the step: the skip came from when:.
      const fix = await post('/executions', {
        runbook: 'when-skip',
        nodes: ['web-1'],
        options: { mode: 'fix' },
      });
      expect((await waitFinished(t, fix.body.id as string)).status).toBe('succeeded');
      expect(await stdoutOf(fix.body.id as string)).toContain('fix stdout FIXED');
    });

    it('the run permission holds for an API token through the CLI: refused, audited, nothing started', async () => {
      await saveRunbook(`name: operators-only
description: Runs for operators
kind: diagnostic
access: { run: [operator] }
steps:
  - name: hello
    run: echo operators-only-ran
`);
      const user = responder;
      const minted = await post('/auth/tokens', { name: 'cli' }, user.auth);
      expect(minted.status, JSON.stringify(minted.body)).toBe(201);
      const run = (token: string) => {
        const err: string[] = [];
        const write = process.stderr.write.bind(process.stderr);
        const out = process.stdout.write.bind(process.stdout);
        process.stderr.write = ((c: string) => (err.push(c), true)) as typeof process.stderr.write;
        process.stdout.write = ((c: string) => (err.push(c), true)) as typeof process.stdout.write;
        return runCli(['run', 'operators-only', '--node', 'web-1'], {
          FIREBREAK_URL: `http://127.0.0.1:${port()}`,
          FIREBREAK_TOKEN: token,
        })
          .finally(() => {
            process.stderr.write = write;
            process.stdout.write = out;
          })
          .then((code) => ({ code, output: err.join('') }));
      };
      const denied = await run(minted.body.token as string);
      expect(denied.code).toBe(3); // forbidden (docs/cli.md#exit-codes)
      expect(denied.output).toMatch(/403 FORBIDDEN: you may not run operators-only/);
      expect(
        (await denials(user.username, 'operators-only')).map((e) => [e.outcome, e.details.reason]),
      ).toEqual([['denied', expect.stringMatching(/do not allow running operators-only/)]]);
      expect((await get('/executions?runbook=operators-only')).body).toEqual([]);

      // An operator's token through the same path runs it.
      const op = await operator();
      const opToken = await post('/auth/tokens', { name: 'cli' }, op.auth);
      const ok = await run(opToken.body.token as string);
      expect(ok.code, ok.output).toBe(0);
      const runs = (await get('/executions?runbook=operators-only')).body as Array<{
        id: string;
        actor: string;
      }>;
      expect(runs.map((r) => r.actor)).toEqual([op.username]);
      expect((await waitFinished(t, runs[0].id)).status).toBe('succeeded');
    });

    it("severity is the commander's: an operator who is not commander is refused and audited; the named commander may", async () => {
      const commander = responder;
      const op = await operator();
      // Declared by an admin with a responder as commander (not a hand-off).
      const inc = await post('/incidents', {
        title: 'Queue backlog',
        severity: 'SEV3',
        commander: commander.username,
      });
      expect(inc.status, JSON.stringify(inc.body)).toBe(201);
      const ref = inc.body.ref as string;
      const denied = await post(`/incidents/${ref}/severity`, { severity: 'SEV1' }, op.auth);
      expect(denied.status).toBe(403);
      expect(denied.body.message).toContain(`only the incident commander (${commander.username})`);
      const audit = (await get(`/audit?action=access.denied&actor=${op.username}&limit=10`)).body
        .items as Array<{ subjectType: string; subjectId: string }>;
      expect(audit.map((e) => e.subjectType)).toEqual(['Incident']);
      expect((await get(`/incidents/${ref}`)).body.severity).toBe('SEV3');

      const allowed = await post(
        `/incidents/${ref}/severity`,
        { severity: 'SEV1' },
        commander.auth,
      );
      expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
      expect((await get(`/incidents/${ref}`)).body.severity).toBe('SEV1');
    });

    it("the service's own reaper interrupts a run whose worker stopped beating, and its viewers are told", async () => {
      await saveRunbook(`name: reaped
description: A short run
kind: diagnostic
steps:
  - name: hello
    run: echo reaped-ran
`);
      const res = await post('/executions', { runbook: 'reaped', nodes: ['web-1'] });
      const id = res.body.id as string;
      expect((await waitFinished(t, id)).status).toBe('succeeded');
      const last = (
        (await get(`/executions/${id}/logs?limit=1000`)).body.items as Array<{ seq: number }>
      ).at(-1)!.seq;
      // Its worker (another process) claimed it, then stopped beating a minute ago.
      await t.app
        .get(DataSource)
        .query(
          `UPDATE executions SET status = 'running', finished_at = NULL, worker = 'ghost:42', heartbeat_at = now() - interval '1 minute' WHERE id = $1`,
          [id],
        );
      // A viewer following it live, told the end when the service's reaper (not a test call)
      // interrupts it.
      const events = await Promise.race([
        readSse(`http://127.0.0.1:${port()}/executions/${id}/stream`, t.adminAuth, {
          lastEventId: String(last),
        }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('not interrupted within 30 s')), 30_000).unref(),
        ),
      ]);
      expect(events).toEqual([
        expect.objectContaining({
          event: 'end',
          data: { status: 'interrupted', error: 'worker ghost:42 stopped reporting' },
        }),
      ]);
      const audit = (await get(`/audit?action=execution.interrupt&subjectId=${id}`)).body
        .items as Array<{ actor: string; details: { worker: string } }>;
      expect(audit.map((e) => [e.actor, e.details.worker])).toEqual([['system', 'ghost:42']]);
    });

    it('a stream resumed after the run ended gets exactly the lines after Last-Event-ID, across a page', async () => {
      await saveRunbook(`name: many-lines
description: Prints more lines than one stream page
kind: diagnostic
steps:
  - name: count
    run: seq 1 2500
`);
      const res = await post('/executions', { runbook: 'many-lines', nodes: ['web-1'] });
      const id = res.body.id as string;
      expect((await waitFinished(t, id)).status).toBe('succeeded');
      const all = (await get(`/executions/${id}/logs?limit=5000`)).body.items as Array<{
        seq: number;
        line: string;
      }>;
      expect(all.length).toBeGreaterThan(2500);
      const from = 1990; // the next page starts at 2001
      const events = await readSse(
        `http://127.0.0.1:${port()}/executions/${id}/stream`,
        t.adminAuth,
        {
          lastEventId: String(from),
        },
      );
      const logs = events.filter((e) => e.event === 'log');
      expect(logs.map((e) => Number(e.id))).toEqual(
        all.filter((l) => l.seq > from).map((l) => l.seq),
      );
      expect(logs.map((e) => (e.data as { line: string }).line)).toEqual(
        all.filter((l) => l.seq > from).map((l) => l.line),
      );
      expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'succeeded' } });
    });
  });
});
