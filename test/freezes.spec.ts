import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/firebreak-cli.js';
import { FINAL_STATUSES } from '../src/executions/execution-state.js';
import { Scheduler } from '../src/schedules/scheduler.js';
import { startTestApp, type TestApp } from './support/app.js';

/**
 * Change freezes (#17) through the real app: the check sits in ExecutionsService.start, so the
 * API, a rerun of an old execution, a child `runbook` step and a schedule are all refused in
 * scope; diagnostics and runs out of scope go on; break-glass needs someone else's approval.
 * Nodes are `connection: local` (the Firebreak host), so no sshd is needed.
 */
const RUNBOOKS: Record<string, string> = {
  restart: `name: restart
description: A remediation on the web nodes
kind: remediation
targets:
  nodes: { names: [prod-1, stage-1] }
steps:
  - { name: go, run: echo restarted }
schedules:
  - { name: nightly, cron: '0 3 * * *', targets: [prod-1] }
`,
  look: `name: look
description: A diagnostic on the web nodes
kind: diagnostic
targets:
  nodes: { names: [prod-1, stage-1] }
steps:
  - { name: go, run: echo looked }
`,
  wrapper: `name: wrapper
description: A diagnostic that calls the remediation as a child
kind: diagnostic
targets:
  nodes: { names: [prod-1, stage-1] }
steps:
  - { name: child, runbook: { name: restart } }
`,
  'alert-look': `name: alert-look
description: A diagnostic an alert starts on the node it names
kind: diagnostic
steps:
  - { name: go, run: echo looked }
triggers:
  - alert:
      match: { alertname: FreezeTest }
    targets:
      nodes:
        names: ['{{ alert.labels.instance }}']
`,
  fixer: `name: fixer
description: A remediation that calls the remediation as a child
kind: remediation
targets:
  nodes: { names: [prod-1, stage-1] }
steps:
  - { name: child, runbook: { name: restart } }
`,
};

const FREEZE = `freezes:
  - name: prod-freeze
    reason: quarter-end
    start: 2020-01-01T00:00:00Z
    end: 2099-01-01T00:00:00Z
    scope:
      kinds: [remediation]
      nodes: { attributes: { environment: production } }
`;

describe('change freezes (real app, Postgres)', () => {
  let t: TestApp;
  let dir: string;
  let operator: { id: string; username: string; auth: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-freezes-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    t = await startTestApp({ RUNBOOKS_DIR: dir, SCHEDULER_TICK: 'off' });
    const imported = await t
      .http()
      .post('/nodes/import/ansible')
      .set('Authorization', t.adminAuth)
      .send({
        format: 'ini',
        content: `[web]
prod-1 ansible_connection=local environment=production
stage-1 ansible_connection=local environment=staging
`,
      });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    operator = await t.userWithRoles(['operator']);
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, auth = t.adminAuth) => t.http().get(path).set('Authorization', auth);
  const post = (path: string, body: object, auth = operator.auth) =>
    t.http().post(path).set('Authorization', auth).send(body);
  const waitFinal = async (id: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await get(`/executions/${id}`);
      if ((FINAL_STATUSES as readonly string[]).includes(res.body.status as string))
        return res.body;
      if (Date.now() > deadline) throw new Error(`execution ${id} is still ${res.body.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('refuses in-scope runs through every door, names the freeze and its end; the rest go on', async () => {
    // Before the freeze: a run on production, to rerun later.
    const before = await post('/executions', { runbook: 'restart', nodes: ['prod-1'] });
    expect(before.status, JSON.stringify(before.body)).toBe(201);
    expect((await waitFinal(before.body.id)).status).toBe('succeeded');

    writeFileSync(join(dir, 'freezes.yaml'), FREEZE);
    const list = await get('/freezes', operator.auth);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({
      problems: [],
      freezes: [
        {
          name: 'prod-freeze',
          active: { start: '2020-01-01T00:00:00.000Z', until: '2099-01-01T00:00:00.000Z' },
        },
      ],
    });

    // The front door: 423 with the freeze's name and end; audited as denied; nothing written.
    const refused = await post('/executions', { runbook: 'restart', nodes: ['prod-1'] });
    expect(refused.status).toBe(423);
    expect(refused.body).toMatchObject({
      code: 'FROZEN',
      details: { freeze: 'prod-freeze', until: '2099-01-01T00:00:00.000Z', reason: 'quarter-end' },
    });
    expect(refused.body.message).toMatch(
      /frozen until 2099-01-01T00:00:00.000Z by freeze prod-freeze/,
    );
    const denied = (await get('/audit?action=access.denied&subjectId=restart&limit=5')).body
      .items as Array<{ actor: string; details: { reason: string } }>;
    expect(denied[0]).toMatchObject({
      actor: operator.username,
      details: { reason: expect.stringMatching(/frozen by prod-freeze/) },
    });
    expect((await get('/executions?runbook=restart&limit=10')).body).toHaveLength(1);

    // Out of scope: staging nodes, and diagnostics, even on production.
    const staging = await post('/executions', { runbook: 'restart', nodes: ['stage-1'] });
    expect(staging.status).toBe(201);
    const diagnostic = await post('/executions', { runbook: 'look', nodes: ['prod-1'] });
    expect(diagnostic.status).toBe(201);
    // No nodes named: the runbook's targets include prod-1, so it is in scope.
    expect((await post('/executions', { runbook: 'restart' })).status).toBe(423);

    // The walk-arounds: a rerun of the old execution, a child runbook step of a diagnostic.
    const rerun = await post(`/executions/${before.body.id}/rerun`, {});
    expect(rerun.status).toBe(423);
    expect(rerun.body.details).toMatchObject({ freeze: 'prod-freeze' });
    const parent = await post('/executions', { runbook: 'wrapper', nodes: ['prod-1'] });
    expect(parent.status).toBe(201);
    const ended = await waitFinal(parent.body.id);
    expect(ended.status).toBe('failed');
    expect(JSON.stringify(ended)).toMatch(/prod-freeze/);
    expect((await get('/executions?runbook=restart&limit=10')).body).toHaveLength(2); // + staging

    // A schedule: its fire is refused and says why in the schedule's history.
    const scheduler = t.app.get(Scheduler);
    await scheduler.tick(new Date('2030-01-01T02:00:00Z')); // first sight
    await scheduler.tick(new Date('2030-01-01T03:00:10Z'));
    const history = (await get('/schedules/restart:nightly/history')).body;
    expect(history).toEqual([
      expect.objectContaining({
        fireTime: '2030-01-01T03:00:00.000Z',
        status: 'refused',
        error: expect.stringMatching(/frozen until .* by freeze prod-freeze/),
      }),
    ]);

    // The plan says so too.
    const plan = await post('/runbooks/restart/plan', {
      nodes: [{ name: 'prod-1', attributes: { environment: 'production' } }],
    });
    expect(plan.status).toBe(200);
    expect(plan.body.frozen).toMatchObject({
      name: 'prod-freeze',
      until: '2099-01-01T00:00:00.000Z',
      message: expect.stringMatching(/^frozen until 2099-01-01T00:00:00.000Z/),
    });
    const stagingPlan = await post('/runbooks/restart/plan', {
      nodes: [{ name: 'stage-1', attributes: { environment: 'staging' } }],
    });
    expect(stagingPlan.body.frozen).toBeNull();
  });

  it('break-glass: a reason, then an approval by someone else (four eyes), audited', async () => {
    const short = await post('/executions', {
      runbook: 'restart',
      nodes: ['prod-1'],
      breakGlass: { reason: 'now' },
    });
    expect(short.status).toBe(400);
    expect(short.body.details).toEqual([
      { path: 'breakGlass.reason', message: expect.stringMatching(/at least 10 characters/) },
    ]);

    const reason = 'checkout down, restart needed now';
    const started = await post('/executions', {
      runbook: 'restart',
      nodes: ['prod-1'],
      breakGlass: { reason },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body.status).toBe('awaiting_approval');
    const id = started.body.id as string;
    const held = await get(`/executions/${id}`);
    expect(held.body.approvals[0]).toMatchObject({
      state: 'pending',
      requestedBy: operator.username,
      reason: expect.stringMatching(
        /^break-glass during freeze prod-freeze \(until 2099-01-01T00:00:00.000Z\): checkout down/,
      ),
    });
    // Four eyes: the requester may not approve, even as an admin would be asked.
    const own = await post(`/executions/${id}/approvals`, { decision: 'approve' });
    expect(own.status).toBe(403);
    const ok = await post(`/executions/${id}/approvals`, { decision: 'approve' }, t.adminAuth);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await waitFinal(id)).status).toBe('succeeded');

    const audit = (await get(`/audit?subjectId=${id}&limit=20`)).body.items as Array<{
      action: string;
      details: Record<string, unknown>;
    }>;
    expect(audit.find((e) => e.action === 'execution.start')?.details).toMatchObject({
      breakGlass: { freeze: 'prod-freeze', until: '2099-01-01T00:00:00.000Z', reason },
    });

    // The CLI door: refused with the freeze's name; --break-glass asks for the held run.
    const token = (
      await t.http().post('/auth/tokens').set('Authorization', operator.auth).send({ name: 'cli' })
    ).body.token as string;
    const env = {
      FIREBREAK_URL: `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`,
      FIREBREAK_TOKEN: token,
    };
    const err: string[] = [];
    const out: string[] = [];
    const [writeErr, writeOut] = [process.stderr.write, process.stdout.write];
    process.stderr.write = ((c: string) => (err.push(c), true)) as typeof process.stderr.write;
    process.stdout.write = ((c: string) => (out.push(c), true)) as typeof process.stdout.write;
    let codes: number[];
    try {
      codes = [
        await runCli(['run', 'restart', '--node', 'prod-1'], env),
        await runCli(['run', 'restart', '--node', 'prod-1', '--break-glass', reason], env),
      ];
    } finally {
      process.stderr.write = writeErr;
      process.stdout.write = writeOut;
    }
    expect(codes).toEqual([5, 0]); // 5: refused in this state (docs/cli.md#exit-codes)
    expect(err.join('')).toMatch(/423 FROZEN: restart is frozen until .* by freeze prod-freeze/);
    expect(err.join('')).toMatch(/: awaiting_approval/);
    const cliRun = out.join('').trim();
    expect((await get(`/executions/${cliRun}`)).body).toMatchObject({
      status: 'awaiting_approval',
      trigger: 'cli',
    });
    await post(`/executions/${cliRun}/approvals`, { decision: 'reject' }, t.adminAuth);

    // For an incident: the incident door is frozen too; break-glass lands on its timeline.
    const inc = await post('/incidents', { title: 'checkout down', severity: 'SEV2' });
    expect(inc.status, JSON.stringify(inc.body)).toBe(201);
    const ref = inc.body.ref as string;
    const frozen = await post(`/incidents/${ref}/executions`, {
      runbook: 'restart',
      nodes: ['prod-1'],
    });
    expect(frozen.status).toBe(423);
    const linked = await post(`/incidents/${ref}/executions`, {
      runbook: 'restart',
      nodes: ['prod-1'],
      breakGlass: { reason },
    });
    expect(linked.status, JSON.stringify(linked.body)).toBe(201);
    expect(linked.body.status).toBe('awaiting_approval');
    const deadline = Date.now() + 60_000;
    let entry: { summary: string } | undefined;
    while (!entry) {
      const items = (await get(`/incidents/${ref}/timeline?limit=100`)).body.items as Array<{
        kind: string;
        summary: string;
      }>;
      entry = items.find((e) => e.kind === 'approval.requested');
      if (!entry && Date.now() > deadline) throw new Error('no approval.requested on the timeline');
      if (!entry) await new Promise((r) => setTimeout(r, 100));
    }
    expect(entry.summary).toMatch(/break-glass during freeze prod-freeze .*checkout down/);
    await post(`/executions/${linked.body.id}/approvals`, { decision: 'reject' }, t.adminAuth);
    // Breaking glass and its decision have their own entries, naming the freeze.
    const kinds = ['freeze.break_glass_requested', 'freeze.break_glass_rejected'];
    let glass: Array<{ kind: string; summary: string; actor: string }> = [];
    while (glass.length < 2) {
      const items = (await get(`/incidents/${ref}/timeline?limit=100`)).body.items as Array<{
        kind: string;
        summary: string;
        actor: string;
      }>;
      glass = items.filter((e) => kinds.includes(e.kind));
      if (glass.length < 2 && Date.now() > deadline) throw new Error(JSON.stringify(items));
      if (glass.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(glass.map((e) => e.kind).sort()).toEqual([...kinds].sort());
    expect(glass.find((e) => e.kind === kinds[0])!.summary).toMatch(
      new RegExp(
        `${operator.username} broke glass for restart during freeze prod-freeze .*: ${reason}`,
      ),
    );
    expect(glass.find((e) => e.kind === kinds[1])!.summary).toMatch(
      /rejected breaking glass for restart during freeze prod-freeze/,
    );

    // A child runbook step of an approved break-glass run inherits it (audited as such); the
    // child of a normal run is still refused (the diagnostic wrapper of the first test).
    const fixer = await post('/executions', {
      runbook: 'fixer',
      nodes: ['prod-1'],
      breakGlass: { reason },
    });
    expect(fixer.status, JSON.stringify(fixer.body)).toBe(201);
    expect(fixer.body.status).toBe('awaiting_approval');
    await post(`/executions/${fixer.body.id}/approvals`, { decision: 'approve' }, t.adminAuth);
    expect((await waitFinal(fixer.body.id)).status).toBe('succeeded');
    const [childRun] = (await get(`/executions/${fixer.body.id}`)).body.children as Array<{
      id: string;
      status: string;
    }>;
    expect(childRun.status).toBe('succeeded');
    const childAudit = (await get(`/audit?subjectId=${childRun.id}&limit=20`)).body.items as Array<{
      action: string;
      details: Record<string, unknown>;
    }>;
    expect(childAudit.find((e) => e.action === 'execution.start')?.details).toMatchObject({
      breakGlass: { freeze: 'prod-freeze', inheritedFrom: fixer.body.id, reason },
    });
  });

  it('a freeze file with problems names file, line and field, and never replaces the last valid one', async () => {
    writeFileSync(
      join(dir, 'freezes.yaml'),
      `freezes:
  - name: backwards
    start: 2030-01-02T00:00:00Z
    end: 2030-01-01T00:00:00Z
  - name: weekly
    cron: '0 18 * * 5'
    duration: 64h
    timezone: Nowhere/City
`,
    );
    const list = await get('/freezes');
    expect(list.body.problems).toEqual([
      expect.objectContaining({
        file: join(dir, 'freezes.yaml'),
        path: 'freezes[0].end',
        line: 4,
        message: expect.stringMatching(/must be after start/),
      }),
      expect.objectContaining({ path: 'freezes[1].timezone', line: 8 }),
    ]);
    expect(list.body.freezes.map((f: { name: string }) => f.name)).toEqual(['prod-freeze']);
    expect((await post('/executions', { runbook: 'restart', nodes: ['prod-1'] })).status).toBe(423);

    // A recurring window in a zone: active now (it started within its duration), else not.
    writeFileSync(
      join(dir, 'freezes.yaml'),
      `freezes:
  - name: always-recurring
    cron: '* * * * *'
    duration: 2m
    timezone: Europe/Berlin
    includeDiagnostics: true
    scope: { runbooks: [look] }
`,
    );
    const recurring = await post('/executions', { runbook: 'look', nodes: ['stage-1'] });
    expect(recurring.status).toBe(423);
    expect(recurring.body.details).toMatchObject({ freeze: 'always-recurring' });
    // Out of its scope (another runbook) nothing is frozen now.
    expect((await post('/executions', { runbook: 'restart', nodes: ['prod-1'] })).status).toBe(201);
  });

  it('freezes through the API: admins only, checked like the file, audited; file ones read-only; every door', async () => {
    const admin = (method: 'post' | 'patch' | 'delete', path: string, body?: object) =>
      t.http()[method](path).set('Authorization', t.adminAuth).send(body);
    const freeze = {
      name: 'api-freeze',
      reason: 'change window',
      start: '2020-01-01T00:00:00Z',
      end: '2099-01-01T00:00:00Z',
      scope: { kinds: ['remediation'], nodes: { attributes: { environment: 'production' } } },
    };
    // Admins only (an operator is 403); bad input names the field path, and nothing is saved.
    expect((await post('/freezes', freeze)).status).toBe(403);
    const backwards = await admin('post', '/freezes', { ...freeze, end: '2019-01-01T00:00:00Z' });
    expect(backwards.status).toBe(400);
    expect(backwards.body.details).toEqual([
      { path: 'end', message: expect.stringMatching(/must be after start/) },
    ]);
    const zone = await admin('post', '/freezes', {
      name: 'api-freeze',
      cron: '0 9 * * *',
      duration: '2h',
      timezone: 'Nowhere/City',
    });
    expect(zone.status).toBe(400);
    expect(zone.body.details.map((d: { path: string }) => d.path)).toEqual(['timezone']);
    const cron = await admin('post', '/freezes', {
      name: 'api-freeze',
      cron: '0 99 * * *',
      duration: '2h',
    });
    expect(cron.body.details.map((d: { path: string }) => d.path)).toEqual(['cron']);
    expect((await get('/freezes')).body.freezes.map((f: { name: string }) => f.name)).toEqual([
      'always-recurring',
    ]);
    // A file freeze stays the file's: 409 naming it, whichever verb.
    for (const [method, path] of [
      ['post', '/freezes'],
      ['patch', '/freezes/always-recurring'],
      ['delete', '/freezes/always-recurring'],
    ] as const) {
      const res = await admin(method, path, { ...freeze, name: 'always-recurring' });
      expect(res.status, `${method} ${path}`).toBe(409);
      expect(res.body.message).toContain(join(dir, 'freezes.yaml'));
    }

    const created = await admin('post', '/freezes', freeze);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'api-freeze', source: 'api' });
    expect((await admin('post', '/freezes', freeze)).status).toBe(409); // exists
    const listed = (await get('/freezes', operator.auth)).body.freezes as Array<{
      name: string;
      source: string;
      active: unknown;
    }>;
    expect(listed.map((f) => [f.name, f.source])).toEqual([
      ['always-recurring', 'file'],
      ['api-freeze', 'api'],
    ]);

    // Every door: the API, an old runbook version, a rerun, a schedule (a refused execution on
    // the list), a child of a normal run; break-glass still works under an API freeze.
    const refused = await post('/executions', { runbook: 'restart', nodes: ['prod-1'] });
    expect(refused.status).toBe(423);
    expect(refused.body.details).toMatchObject({ freeze: 'api-freeze', reason: 'change window' });
    writeFileSync(
      join(dir, 'restart.yaml'),
      RUNBOOKS.restart.replace('A remediation', 'Now a remediation'),
    );
    expect((await t.http().post('/runbooks/sync').set('Authorization', t.adminAuth)).status).toBe(
      200,
    );
    const old = await post('/executions', { runbook: 'restart', version: 1, nodes: ['prod-1'] });
    expect(old.status, JSON.stringify(old.body)).toBe(423);
    const done = (
      (await get('/executions?runbook=restart&status=succeeded&limit=50')).body as Array<{
        id: string;
        targets: string[];
      }>
    ).find((e) => e.targets.includes('prod-1'))!;
    expect((await post(`/executions/${done.id}/rerun`, {})).status).toBe(423);
    const parent = await post('/executions', { runbook: 'wrapper', nodes: ['prod-1'] });
    expect(JSON.stringify(await waitFinal(parent.body.id))).toMatch(/api-freeze/);
    const scheduler = t.app.get(Scheduler);
    await scheduler.tick(new Date('2031-01-01T02:00:00Z'));
    await scheduler.tick(new Date('2031-01-01T03:00:05Z'));
    const fire = (await get('/schedules/restart:nightly/history')).body[0];
    expect(fire).toMatchObject({ fireTime: '2031-01-01T03:00:00.000Z', status: 'refused' });
    const row = (await get(`/executions/${fire.executionId}`)).body;
    expect(row).toMatchObject({
      status: 'refused',
      trigger: 'schedule',
      actor: 'schedule:restart/nightly',
      targets: ['prod-1'],
      error: expect.stringMatching(/frozen until 2099-01-01T00:00:00.000Z by freeze api-freeze/),
    });

    // PATCH: the whole is checked again; the window ended: runs go on. DELETE: gone. Audited.
    const bad = await admin('patch', '/freezes/api-freeze', { end: '2019-06-01T00:00:00Z' });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('end');
    const ended = await admin('patch', '/freezes/api-freeze', {
      end: '2020-06-01T00:00:00Z',
      reason: null,
    });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    expect(ended.body).toMatchObject({ end: '2020-06-01T00:00:00Z', active: null });
    expect(ended.body.reason).toBeUndefined();
    expect((await post('/executions', { runbook: 'restart', nodes: ['prod-1'] })).status).toBe(201);
    expect((await admin('delete', '/freezes/api-freeze')).status).toBe(204);
    expect((await admin('delete', '/freezes/api-freeze')).status).toBe(404);
    const audit = (await get('/audit?subjectId=api-freeze&limit=20')).body.items as Array<{
      action: string;
      actor: string;
    }>;
    expect(audit.map((e) => e.action).sort()).toEqual(
      expect.arrayContaining(['freeze.create', 'freeze.delete', 'freeze.update']),
    );
  });

  it('an alert-triggered run in scope of an API freeze is refused, on the incident timeline with the freeze', async () => {
    const admin = (path: string, body: object) =>
      t.http().post(path).set('Authorization', t.adminAuth).send(body);
    const made = await admin('/freezes', {
      name: 'alert-freeze',
      start: '2020-01-01T00:00:00Z',
      end: '2099-01-01T00:00:00Z',
      includeDiagnostics: true,
      scope: { runbooks: ['alert-look'] },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const integration = await admin('/integrations', {
      name: 'prom-freeze',
      type: 'alertmanager',
      autoRun: ['alert-look'],
    });
    expect(integration.status, JSON.stringify(integration.body)).toBe(201);
    const sent = await t
      .http()
      .post(`/hooks/alertmanager/${integration.body.id}`)
      .set('Authorization', `Bearer ${integration.body.secret}`)
      .send({
        version: '4',
        groupKey: '{}:{alertname="FreezeTest"}',
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'firebreak',
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: 'http://alertmanager.invalid',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'FreezeTest', instance: 'prod-1', severity: 'warning' },
            annotations: { summary: 'frozen look' },
            startsAt: '2026-12-01T10:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: '',
            fingerprint: 'freeze-1',
          },
        ],
      });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const deadline = Date.now() + 60_000;
    let refusal: { summary: string } | undefined;
    while (!refusal) {
      const incidents = (await get('/incidents?limit=50')).body as Array<{
        ref: string;
        title: string;
      }>;
      const inc = incidents.find((i) => i.title === 'frozen look');
      const items = inc
        ? ((await get(`/incidents/${inc.ref}/timeline?limit=100`)).body.items as Array<{
            kind: string;
            summary: string;
          }>)
        : [];
      refusal = items.find((e) => e.kind === 'alert.run_refused');
      if (!refusal && Date.now() > deadline) throw new Error(JSON.stringify(items));
      if (!refusal) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refusal.summary).toMatch(
      /alert-look not started: .*frozen until .* by freeze alert-freeze/,
    );
    expect((await get('/executions?runbook=alert-look&limit=5')).body).toEqual([]);
  });
});
