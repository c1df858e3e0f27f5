import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AlertProcessor, alertRunKey } from '../src/alerts/alert-processor.js';
import { startAlertmanager, type Alertmanager } from './support/alertmanager.js';
import { startTestApp, type TestApp } from './support/app.js';
import { waitFinished } from './support/fleet.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

/** A diagnostic with a trigger: options and target names templated from the alert's labels. */
const RUNBOOK = `
name: diagnose-alert
description: Says what it checks, for which alert, on which node
kind: diagnostic
options:
  - name: alertname
    type: string
    pattern: '^[A-Za-z0-9]+$'
    required: true
steps:
  - name: look
    run: echo checking {{ options.alertname }} on {{ node.name }}
triggers:
  - alert:
      match: { alertname: /HostOutOfMemory|HostHighCpuLoad/ }
    options: { alertname: '{{ alert.labels.alertname }}' }
    targets:
      nodes:
        names: ['{{ alert.labels.instance }}']
`;

/** Diagnostics of their own, so the storm guard's counts of one test never reach another's. */
const runbookOn = (name: string, alertname: string) => `
name: ${name}
description: Says it ran
kind: diagnostic
steps:
  - name: look
    run: echo ${name} on {{ node.name }}
triggers:
  - alert:
      match: { alertname: ${alertname} }
    targets:
      nodes:
        names: ['{{ alert.labels.instance }}']
`;

/** A remediation matching RemediateTest whose trigger opts in (`autoRun: true`; without it the
 * runbook is refused at load, and triggers.spec.ts covers a definition that lacks it). */
const remediation = (name: string) => `
name: ${name}
description: Restarts what the alert names
kind: remediation
approval:
  reason: a remediation started by an alert
steps:
  - name: act
    run: echo ${name} on {{ node.name }}
triggers:
  - alert:
      match: { alertname: RemediateTest }
    targets:
      nodes:
        names: ['{{ alert.labels.instance }}']
    autoRun: true
`;

interface Entry {
  kind: string;
  summary: string;
  actor: string;
  details: Record<string, unknown>;
}

/** Polls `fn` until it returns something truthy (generous deadline; no timing assertions). */
async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  ms = 45_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('alert webhooks (real app, Postgres, the real Alertmanager)', () => {
  let t: TestApp;
  let dir: string;
  let integration: { id: string; url: string; secret: string; identity: string };
  let am: Alertmanager | undefined;
  let redis: RedisServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-alert-runbooks-'));
    writeFileSync(join(dir, 'diagnose-alert.yaml'), RUNBOOK);
    writeFileSync(join(dir, 'diagnose-storm.yaml'), runbookOn('diagnose-storm', 'StormTest'));
    writeFileSync(join(dir, 'diagnose-queue.yaml'), runbookOn('diagnose-queue', 'QueueTest'));
    writeFileSync(join(dir, 'diagnose-crash.yaml'), runbookOn('diagnose-crash', 'CrashTest'));
    writeFileSync(join(dir, 'remediate-opted.yaml'), remediation('remediate-opted'));
    writeFileSync(
      join(dir, 'diagnose-own-storm.yaml'),
      `${runbookOn('diagnose-own-storm', 'OwnStormTest')}    storm: { runs: 1, window: 24h }\n`,
    );
    // The real queue: a test stops and restarts this Redis.
    redis = await startRedis();
    t = await startTestApp({ RUNBOOKS_DIR: dir, LOCAL_NODE: 'true', REDIS_URL: redis.url });
    const res = await t
      .http()
      .post('/integrations')
      .set('Authorization', t.adminAuth)
      .send({ name: 'prom-main', type: 'alertmanager', autoRun: ['diagnose-alert'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    integration = res.body;
    // A node a glob would select: an alert's `*` must not reach it.
    const node = await t
      .http()
      .post('/nodes')
      .set('Authorization', t.adminAuth)
      .send({ name: 'web-1', hostname: '127.0.0.1', port: 1 });
    expect(node.status, JSON.stringify(node.body)).toBe(201);
  });
  afterAll(async () => {
    await am?.stop();
    await t?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sql = <T>(query: string, params: unknown[] = []) =>
    t.app.get(DataSource).query<T[]>(query, params);
  const hook = (id = integration.id) => t.http().post(`/hooks/alertmanager/${id}`);
  const get = (path: string) => t.http().get(path).set('Authorization', t.adminAuth);
  const timelineOf = async (ref: string) =>
    (await get(`/incidents/${ref}/timeline?limit=1000`)).body.items as Entry[];
  const payload = (
    alerts: Array<{ fp: string; status?: string; labels: Record<string, string> }>,
    groupKey = '{}:{alertname="HostHighCpuLoad"}',
  ) => ({
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    status: alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved',
    receiver: 'firebreak',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts: alerts.map((a) => ({
      status: a.status ?? 'firing',
      labels: a.labels,
      annotations: { summary: `CPU busy on ${a.labels.instance}` },
      startsAt: '2026-12-01T10:00:00Z',
      endsAt: a.status === 'resolved' ? '2026-12-01T10:05:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: a.fp,
    })),
  });

  it('creates an integration: a hook URL, a service identity, the secret shown once and stored hashed', async () => {
    expect(integration.url).toMatch(new RegExp(`/hooks/alertmanager/${integration.id}$`));
    expect(integration.identity).toBe('integration:prom-main');
    expect(integration.secret).toMatch(/^fbi_[A-Za-z0-9_-]{43}$/);
    const again = await get(`/integrations/${integration.id}`);
    expect(again.status).toBe(200);
    expect(JSON.stringify(again.body)).not.toContain(integration.secret);
    const [row] = await sql<{ secret_hash: string }>(
      'SELECT secret_hash FROM alert_integrations WHERE id = $1',
      [integration.id],
    );
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.secret_hash).not.toContain(integration.secret);
    const audit = await get('/audit?action=integration.create&limit=5');
    expect(audit.body.items[0].details.name).toBe('prom-main');
    // Admins only; a bad field is named.
    const responder = await t.userWithRoles(['responder']);
    const denied = await t
      .http()
      .post('/integrations')
      .set('Authorization', responder.auth)
      .send({ name: 'x-y', type: 'alertmanager' });
    expect(denied.status).toBe(403);
    const bad = await t
      .http()
      .post('/integrations')
      .set('Authorization', t.adminAuth)
      .send({ name: 'ok-name', type: 'nagios', severityMap: { critical: 'SEV9' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/type:/);
    expect(bad.body.message).toMatch(/severityMap\.critical:/);
  });

  it('refuses: unknown integration 404, no or wrong secret 401 (audited), bad shape 400 naming the field, too large 413', async () => {
    const body = payload([{ fp: 'f0', labels: { alertname: 'X' } }]);
    const auth = `Bearer ${integration.secret}`;
    const unknown = await hook('00000000-0000-4000-8000-000000000000')
      .set('Authorization', auth)
      .send(body);
    expect(unknown.status).toBe(404);
    expect((await hook('not-a-uuid').set('Authorization', auth).send(body)).status).toBe(404);

    const none = await hook().send(body);
    expect(none.status).toBe(401);
    const wrong = await hook().set('Authorization', `Bearer ${integration.secret}x`).send(body);
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain(integration.secret);
    const basicWrong = await hook().auth('alertmanager', 'nope').send(body);
    expect(basicWrong.status).toBe(401);
    const audit = await get(`/audit?action=alert.unauthenticated&subjectId=${integration.id}`);
    expect(audit.body.items.length).toBeGreaterThanOrEqual(3);

    const shape = await hook()
      .set('Authorization', auth)
      .send({ ...body, alerts: [{ ...body.alerts[0], fingerprint: 7 }] });
    expect(shape.status).toBe(400);
    expect(shape.body.message).toMatch(/alerts\[0\]\.fingerprint:/);
    const malformed = await hook()
      .set('Authorization', auth)
      .set('Content-Type', 'application/json')
      .send('{"version": "4",');
    expect(malformed.status).toBe(400);
    const big = await hook()
      .set('Authorization', auth)
      .send({ ...body, padding: 'x'.repeat(1024 * 1024 + 1) });
    expect(big.status).toBe(413);
    const [{ n }] = await sql<{ n: string }>(
      "SELECT count(*)::text AS n FROM alert_deliveries WHERE state <> 'rejected'",
    );
    expect(n).toBe('0');
  });

  it('a repeat updates, never duplicates; basic auth works; an alert value is a literal node name', async () => {
    const body = payload([
      {
        fp: 'cpu-local',
        labels: { alertname: 'HostHighCpuLoad', instance: 'localhost', severity: 'warning' },
      },
      {
        fp: 'cpu-glob',
        labels: { alertname: 'HostHighCpuLoad', instance: '*', severity: 'warning' },
      },
    ]);
    const first = await hook().set('Authorization', `Bearer ${integration.secret}`).send(body);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    // Answered by the hook lane ahead of the general pipeline (hook-lane.ts), with what that
    // gives every request: request id, security headers for a JSON API, metrics by route pattern.
    expect(first.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.headers.etag).toBeUndefined();
    const metrics = (await t.http().get('/metrics')).text;
    expect(metrics).toMatch(
      /^firebreak_http_request_duration_seconds_count\{method="POST",route="\/hooks\/alertmanager\/:id",status_code="202"\} [1-9]/m,
    );
    const repeat = await hook().auth('alertmanager', integration.secret).send(body);
    expect(repeat.status).toBe(202);
    await until('both deliveries processed', async () => {
      const rows = await sql<{ state: string }>(
        "SELECT state FROM alert_deliveries WHERE state <> 'rejected'",
      );
      return rows.length === 2 && rows.every((r) => r.state === 'processed');
    });
    const alerts = await sql<{ fingerprint: string; incident_id: string }>(
      `SELECT fingerprint, incident_id FROM alerts WHERE fingerprint LIKE 'cpu-%'`,
    );
    expect(alerts).toHaveLength(2);
    expect(new Set(alerts.map((a) => a.incident_id)).size).toBe(1);
    // Each receipt audited (by the processor, off the request path), with the request's id.
    const received = await get(`/audit?action=alert.received&subjectId=${integration.id}`);
    expect(received.body.items).toHaveLength(2);
    expect(received.body.items[0]).toMatchObject({
      actor: 'integration:prom-main',
      details: { alerts: 2, firing: 2, truncated: 0 },
    });
    expect(received.body.items[0].requestId).toBeTruthy();
    const incidents = (await get('/incidents?limit=50')).body as Array<{
      ref: string;
      source: string;
      severity: string;
      title: string;
    }>;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      source: 'alertmanager',
      severity: 'SEV3',
      title: 'CPU busy on localhost',
    });
    const timeline = await timelineOf(incidents[0].ref);
    expect(timeline.filter((e) => e.kind === 'alert.fired')).toHaveLength(2);
    expect(timeline.find((e) => e.kind === 'incident.declared')?.actor).toBe(
      'integration:prom-main',
    );
    // `*` from a label selects no node: recorded, not run everywhere.
    const refused = timeline.filter((e) => e.kind === 'alert.run_refused');
    expect(refused).toHaveLength(1);
    expect(refused[0].summary).toMatch(/no node matches/);
    const runs = await until('the localhost run', async () => {
      const list = (await get('/executions?runbook=diagnose-alert')).body as Array<{
        id: string;
        incidentId: string;
        trigger: string;
        actor: string;
        targets: Array<{ name: string }>;
      }>;
      return list.length ? list : undefined;
    });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      incidentId: incidents[0].ref,
      trigger: 'alert',
      actor: 'integration:prom-main',
    });
    expect((await waitFinished(t, runs[0].id)).status).toBe('succeeded');
  });

  it('a remediation runs automatically only from a trigger that opts in, and is held for its approval', async () => {
    const created = await t
      .http()
      .post('/integrations')
      .set('Authorization', t.adminAuth)
      // A remediation runs for operators: the identity needs the role, like any user.
      .send({ name: 'prom-remediate', type: 'alertmanager', autoRun: ['*'], roles: ['operator'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const res = await hook(created.body.id)
      .set('Authorization', `Bearer ${created.body.secret}`)
      .send(
        payload(
          [{ fp: 'remediate-1', labels: { alertname: 'RemediateTest', instance: 'localhost' } }],
          '{}:{alertname="RemediateTest"}',
        ),
      );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const [run] = await until('the opted-in remediation', async () => {
      const list = (await get('/executions?runbook=remediate-opted')).body as Array<{
        id: string;
        status: string;
        actor: string;
      }>;
      return list.length ? list : undefined;
    });
    expect(run.actor).toBe('integration:prom-remediate');
    const held = await until('the run held for approval', async () => {
      const e = (await get(`/executions/${run.id}`)).body as { status: string };
      return e.status === 'awaiting_approval' ? e : undefined;
    });
    expect(held.status).toBe('awaiting_approval');
    await until('the delivery processed', async () => {
      const rows = await sql<{ state: string }>(
        `SELECT state FROM alert_deliveries WHERE integration_id = $1`,
        [created.body.id],
      );
      return rows.length === 1 && rows[0].state === 'processed';
    });
  });

  it('a delivery stored without a notice (as before a crash or restart) is processed; one that fails is retried later, holding up nothing', async () => {
    const body = payload(
      [
        {
          fp: 'mem-stored',
          labels: { alertname: 'HostSwapping', instance: 'db-2', severity: 'error' },
        },
      ],
      '{}:{alertname="HostSwapping"}',
    );
    // As the intake writes it, minus the NOTIFY: only the poll (as at start-up) finds it.
    const alerts = body.alerts.map((a) => ({
      source: 'alertmanager',
      fingerprint: a.fingerprint,
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: null,
      generatorURL: null,
      groupKey: body.groupKey,
    }));
    // Before it, one that cannot be processed: it is retried later and holds up nothing.
    const [poison] = await sql<{ id: string }>(
      `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts) VALUES ($1, 'received', 'g', '{"not": "a list"}') RETURNING id::text`,
      [integration.id],
    );
    await sql(
      `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts) VALUES ($1, 'received', $2, $3::jsonb)`,
      [integration.id, body.groupKey, JSON.stringify(alerts)],
    );
    const incident = await until('the incident of the stored delivery', async () => {
      const list = (await get('/incidents?limit=50')).body as Array<{
        ref: string;
        title: string;
        severity: string;
      }>;
      return list.find((i) => i.title === 'CPU busy on db-2');
    });
    expect(incident.severity).toBe('SEV2');
    const [failed] = await sql<{ attempts: number; error: string; processed_at: Date | null }>(
      'SELECT attempts, error, processed_at FROM alert_deliveries WHERE id = $1',
      [poison.id],
    );
    expect(failed.attempts).toBeGreaterThanOrEqual(1);
    expect(failed.error).toMatch(/not a list/);
    expect(failed.processed_at).toBeNull();
  });

  it('deliveries stored together are recorded in one transaction; one that fails there is retried alone, the others recorded at once', async () => {
    // Stored as the intake does, in one statement, repeats of alerts already known (nothing
    // to start): six groups, and in the middle one that cannot be processed.
    const rows = [0, 1, 2, 3, 4, 5].map((k) => ({
      groupKey: `{}:{alertname="Batch${k}"}`,
      alerts:
        k === 3
          ? { not: 'a list' }
          : [
              {
                source: 'alertmanager',
                fingerprint: `batch-${k}`,
                status: 'firing',
                labels: { alertname: `Batch${k}`, instance: `batch-${k}` },
                annotations: {},
                startsAt: '2026-12-01T10:00:00.000Z',
                endsAt: null,
                generatorURL: null,
                groupKey: `{}:{alertname="Batch${k}"}`,
              },
            ],
    }));
    const stored = await sql<{ id: string; group_key: string }>(
      `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts)
       SELECT $1, 'received', x.g, x.a FROM jsonb_to_recordset($2::jsonb) AS x(g text, a jsonb)
       RETURNING id::text, group_key`,
      [integration.id, JSON.stringify(rows.map((r) => ({ g: r.groupKey, a: r.alerts })))],
    );
    await sql(`SELECT pg_notify('firebreak_alert', '{}')`);
    const ids = stored.map((r) => r.id);
    const poison = stored.find((r) => r.group_key.includes('Batch3'))!.id;
    const good = ids.filter((id) => id !== poison);
    const done = await until('the five recorded', async () => {
      const list = await sql<{ id: string; tx: string; attempts: number }>(
        `SELECT id::text, xmin::text AS tx, attempts FROM alert_deliveries
          WHERE id = ANY($1::bigint[]) AND processed_at IS NOT NULL`,
        [good],
      );
      return list.length === good.length ? list : undefined;
    });
    // None of them counted a failure; each was recorded by one of at most two transactions
    // (the one the failure rolled back took them all; the next took those after the poison).
    expect(done.every((r) => r.attempts === 0)).toBe(true);
    expect(new Set(done.map((r) => r.tx)).size).toBeLessThanOrEqual(2);
    const [failed] = await sql<{ attempts: number; error: string; processed_at: Date | null }>(
      'SELECT attempts, error, processed_at FROM alert_deliveries WHERE id = $1',
      [poison],
    );
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatch(/not a list/);
    expect(failed.processed_at).toBeNull();
    const alerts = await sql<{ fingerprint: string }>(
      `SELECT fingerprint FROM alerts WHERE fingerprint LIKE 'batch-%' ORDER BY fingerprint`,
    );
    expect(alerts.map((a) => a.fingerprint)).toEqual([
      'batch-0',
      'batch-1',
      'batch-2',
      'batch-4',
      'batch-5',
    ]);
  });

  it('while receipts are still being audited (deliveries arriving faster), audited deliveries are already processed', async () => {
    // 250 stored at once: three audit batches of up to 100. The first delivery is processed
    // between them, not after the last receipt is audited.
    const rows = Array.from({ length: 250 }, (_, k) => ({
      g: `{}:{alertname="Backlog${k % 10}"}`,
      a: [
        {
          source: 'alertmanager',
          fingerprint: `backlog-${k % 10}`,
          status: 'firing',
          labels: { alertname: `Backlog${k % 10}`, instance: `backlog-${k % 10}` },
          annotations: {},
          startsAt: '2026-12-01T10:00:00.000Z',
          endsAt: null,
          generatorURL: null,
          groupKey: `{}:{alertname="Backlog${k % 10}"}`,
        },
      ],
    }));
    const stored = await sql<{ id: string }>(
      `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts)
       SELECT $1, 'received', x.g, x.a FROM jsonb_to_recordset($2::jsonb) AS x(g text, a jsonb)
       RETURNING id::text`,
      [integration.id, JSON.stringify(rows)],
    );
    await sql(`SELECT pg_notify('firebreak_alert', '{}')`);
    const first = stored[0].id;
    const last = stored[stored.length - 1].id;
    await until('the backlog processed', async () => {
      const [{ n }] = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM alert_deliveries WHERE id = ANY($1::bigint[]) AND processed_at IS NULL`,
        [stored.map((r) => r.id)],
      );
      return n === 0;
    });
    // Transaction ids are handed out in order: the first delivery's last write (its
    // processing) came before the transaction that audited the last one's receipt.
    const [{ processedTx }] = await sql<{ processedTx: string }>(
      `SELECT xmin::text AS "processedTx" FROM alert_deliveries WHERE id = $1`,
      [first],
    );
    const [{ auditTx }] = await sql<{ auditTx: string }>(
      `SELECT xmin::text AS "auditTx" FROM audit_log
        WHERE action = 'alert.received' AND details->>'delivery' = $1`,
      [last],
    );
    expect(BigInt(processedTx)).toBeLessThan(BigInt(auditTx));
  });

  it('the real Alertmanager: firing opens an incident and runs the diagnostic on the instance; the repeat joins; the resolve lands on the timeline', async () => {
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}/hooks/alertmanager/${integration.id}`;
    am = await startAlertmanager(`
route:
  receiver: firebreak
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: firebreak
    webhook_configs:
      - url: ${url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: ${integration.secret}
`);
    const labels = { alertname: 'HostOutOfMemory', instance: 'localhost', severity: 'critical' };
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    await am.post([
      { labels, annotations: { summary: 'Host out of memory (localhost)' }, startsAt },
    ]);

    const incident = await until('an incident from Alertmanager', async () => {
      const list = (await get('/incidents?limit=50')).body as Array<{
        ref: string;
        title: string;
        severity: string;
      }>;
      return list.find((i) => i.title === 'Host out of memory (localhost)');
    });
    expect(incident.severity).toBe('SEV1');
    const run = await until('the diagnostic for the alert', async () => {
      const list = (await get('/executions?runbook=diagnose-alert')).body as Array<{
        id: string;
        incidentId: string;
      }>;
      return list.find((e) => e.incidentId === incident.ref);
    });
    expect((await waitFinished(t, run.id)).status).toBe('succeeded');
    const logs = await get(`/executions/${run.id}/logs?format=text`);
    expect(logs.text).toContain('checking HostOutOfMemory on localhost');

    // A second alert of the group: Alertmanager sends the group again, the first alert with it.
    const other = { ...labels, instance: 'db-9' };
    await am.post([
      { labels, annotations: { summary: 'Host out of memory (localhost)' }, startsAt },
      { labels: other, annotations: { summary: 'Host out of memory (db-9)' }, startsAt },
    ]);
    await until(
      'the second alert on the same incident',
      async () =>
        (await timelineOf(incident.ref)).filter((e) => e.kind === 'alert.fired').length === 2,
    );
    const ends = new Date(Date.now() - 1_000).toISOString();
    await am.post([
      { labels, startsAt, endsAt: ends },
      { labels: other, startsAt, endsAt: ends },
    ]);
    const timeline = await until('the resolves and monitoring', async () => {
      const entries = await timelineOf(incident.ref);
      return entries.filter((e) => e.kind === 'alert.resolved').length === 2 &&
        entries.some((e) => e.kind === 'status.changed')
        ? entries
        : undefined;
    });
    expect(timeline.filter((e) => e.kind === 'alert.fired')).toHaveLength(2);
    const fired = timeline.filter((e) => e.kind === 'alert.fired').map((e) => e.summary);
    expect(fired[0]).toMatch(/HostOutOfMemory on localhost/);
    expect(fired[1]).toMatch(/HostOutOfMemory on db-9/);
    expect(timeline.find((e) => e.kind === 'status.changed')?.summary).toMatch(/→ monitoring/);
    expect((await get(`/incidents/${incident.ref}`)).body.status).toBe('monitoring');
    // One incident for the group; one run for localhost (db-9 is no node: refused, on the timeline).
    const list = (await get('/incidents?limit=50')).body as Array<{ title: string }>;
    expect(list.filter((i) => i.title === 'Host out of memory (localhost)')).toHaveLength(1);
    const runs = (await get('/executions?runbook=diagnose-alert')).body as Array<{
      incidentId: string;
    }>;
    expect(runs.filter((e) => e.incidentId === incident.ref)).toHaveLength(1);
    expect(timeline.some((e) => e.kind === 'alert.run_refused' && /db-9/.test(e.summary))).toBe(
      true,
    );
  });

  const createIntegration = async (body: Record<string, unknown>) => {
    const res = await t.http().post('/integrations').set('Authorization', t.adminAuth).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; secret: string };
  };
  const send = async (i: { id: string; secret: string }, body: object) => {
    const res = await hook(i.id).set('Authorization', `Bearer ${i.secret}`).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
  };
  /** Waits until the integration's `n` deliveries are all processed. */
  const processed = (i: { id: string }, n: number) =>
    until(`${n} deliveries processed`, async () => {
      const [row] = await sql<{ all: number; done: number }>(
        `SELECT count(*)::int AS all, count(processed_at)::int AS done FROM alert_deliveries
          WHERE integration_id = $1`,
        [i.id],
      );
      return row.all === n && row.done === n;
    });
  const metric = async (line: string) => {
    const text = (await t.http().get('/metrics')).text;
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found ? Number(found.split(' ')[1]) : 0;
  };
  /** Fixed one-day windows: not started in the last two minutes before one ends. */
  const clearOfDayEnd = async () => {
    const toMidnight = 86_400_000 - (Date.now() % 86_400_000);
    if (toMidnight < 120_000) await new Promise((r) => setTimeout(r, toMidnight + 1_000));
  };
  const storm = (fp: string, extra: Record<string, string> = {}) => ({
    fp,
    labels: { alertname: 'StormTest', instance: 'localhost', storm: fp, ...extra },
  });

  it('storm guard: at most N automatic runs per runbook and node per window, across integrations; over the ingest limit deliveries are stored and held back; each once on the timeline and counted', async () => {
    await clearOfDayEnd();
    const day = { max: 2, windowSeconds: 86_400 };
    const a = await createIntegration({
      name: 'prom-storm',
      type: 'alertmanager',
      autoRun: ['diagnose-storm'],
      runLimit: day,
      ingestLimit: { max: 6, windowSeconds: 86_400 },
    });
    const group = '{}:{alertname="StormTest"}';
    for (const fp of ['s1', 's2', 's3']) await send(a, payload([storm(fp)], group));
    await processed(a, 3);
    const incident = (await get('/incidents?limit=100')).body.find(
      (i: { title: string; source: string }) =>
        i.title === 'CPU busy on localhost' && i.source === 'alertmanager',
    ) as { ref: string };
    const runsOf = async (ref: string) =>
      (
        (await get('/executions?runbook=diagnose-storm')).body as Array<{ incidentId: string }>
      ).filter((e) => e.incidentId === ref).length;
    expect(await runsOf(incident.ref)).toBe(2);
    const deliveries = await sql<{ runs: Array<{ suppressed?: string; execution?: string }> }>(
      'SELECT runs FROM alert_deliveries WHERE integration_id = $1 ORDER BY id',
      [a.id],
    );
    expect(deliveries.filter((d) => d.runs[0].execution)).toHaveLength(2);
    const held = deliveries.filter((d) => d.runs[0].suppressed);
    expect(held).toHaveLength(1);
    expect(held[0].runs[0].suppressed).toMatch(
      /storm guard: over 2 automatic runs per 24 h on localhost/,
    );
    // A fourth: counted, not listed again on the timeline.
    await send(a, payload([storm('s4')], group));
    await processed(a, 4);
    let timeline = await timelineOf(incident.ref);
    const suppressed = timeline.filter((e) => e.kind === 'alert.run_suppressed');
    expect(suppressed).toHaveLength(1);
    expect(suppressed[0].summary).toMatch(/diagnose-storm not started on localhost: storm guard/);
    expect(timeline.filter((e) => e.kind === 'alert.fired')).toHaveLength(4);
    expect(
      await metric(
        'firebreak_alert_runs_suppressed_total{integration="prom-storm",runbook="diagnose-storm"}',
      ),
    ).toBe(2);

    // Another integration gets no fresh allowance for the same runbook and node.
    const b = await createIntegration({
      name: 'prom-storm-2',
      type: 'alertmanager',
      autoRun: ['diagnose-storm'],
      runLimit: day,
    });
    await send(b, payload([storm('b1')], group));
    await processed(b, 1);
    const other = (
      await sql<{ incident_id: string }>(
        'SELECT incident_id FROM alerts WHERE integration_id = $1',
        [b.id],
      )
    )[0];
    const otherRef = (await get(`/incidents/${other.incident_id}`)).body.ref as string;
    expect(await runsOf(otherRef)).toBe(0);
    expect(
      (await timelineOf(otherRef)).filter((e) => e.kind === 'alert.run_suppressed'),
    ).toHaveLength(1);

    // Ingest: 4 alerts so far, limit 6. Two more are processed; after that, held back.
    const quiet = (fp: string, status = 'firing') => ({
      fp,
      status,
      labels: { alertname: 'DiskTest', instance: `disk-${fp}` },
    });
    await send(a, payload([quiet('o1'), quiet('o2')], '{}:{alertname="DiskTest"}'));
    await send(a, payload([{ ...storm('s1'), status: 'resolved' }, quiet('o3')], group));
    await send(a, payload([quiet('o4')], '{}:{alertname="DiskTest"}'));
    await processed(a, 7);
    const limited = await sql<{ limited: boolean }>(
      'SELECT limited FROM alert_deliveries WHERE integration_id = $1 ORDER BY id',
      [a.id],
    );
    expect(limited.map((d) => d.limited)).toEqual([false, false, false, false, false, true, true]);
    const known = (
      await sql<{ fingerprint: string; status: string }>(
        'SELECT fingerprint, status FROM alerts WHERE integration_id = $1 ORDER BY fingerprint',
        [a.id],
      )
    ).map((r) => `${r.fingerprint}:${r.status}`);
    // Held back: o3, o4 (stored in their deliveries only); the resolve of s1 was applied.
    expect(known).toEqual([
      'o1:firing',
      'o2:firing',
      's1:resolved',
      's2:firing',
      's3:firing',
      's4:firing',
    ]);
    timeline = await timelineOf(incident.ref);
    expect(timeline.filter((e) => e.kind === 'alert.resolved')).toHaveLength(1);
    const stormIncident = (await get('/incidents?limit=100')).body.find((i: { title: string }) =>
      /^Alert storm: prom-storm is over its ingest limit \(6 alerts per 24 h\)/.test(i.title),
    ) as { ref: string };
    expect(stormIncident).toBeDefined();
    const told = (await timelineOf(stormIncident.ref)).filter(
      (e) => e.kind === 'alert.ingest_limited',
    );
    expect(told).toHaveLength(1);
    expect(told[0].details).toMatchObject({ integration: 'prom-storm', held: 1 });
    expect(await metric('firebreak_alerts_ingest_limited_total{integration="prom-storm"}')).toBe(3);
  });

  /** Deliveries stored in one statement, as the intake does, and the processors woken. */
  const storeTogether = async (
    integrationId: string,
    rows: Array<{ g: string; alerts: Array<Record<string, unknown>> }>,
  ) => {
    const stored = await sql<{ id: string }>(
      `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts)
       SELECT $1, 'received', x.g, x.a FROM jsonb_to_recordset($2::jsonb) AS x(g text, a jsonb)
       RETURNING id::text`,
      [integrationId, JSON.stringify(rows.map((r) => ({ g: r.g, a: r.alerts })))],
    );
    await sql(`SELECT pg_notify('firebreak_alert', '{}')`);
    return stored.map((r) => r.id);
  };
  const stored = (
    fp: string,
    alertname: string,
    status = 'firing',
    startsAt = '2026-12-01T10:00:00.000Z',
  ) => ({
    source: 'alertmanager',
    fingerprint: fp,
    status,
    labels: { alertname, instance: fp },
    annotations: { summary: `${alertname} on ${fp}` },
    startsAt,
    endsAt: null,
    generatorURL: null,
    groupKey: `{}:{alertname="${alertname}"}`,
  });
  const txOf = async (ids: string[]) =>
    await sql<{ tx: string; attempts: number; limited: boolean; error: string | null }>(
      `SELECT xmin::text AS tx, attempts, limited, error FROM alert_deliveries
          WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids],
    );

  it("a batch records its deliveries as one at a time would: an alert fired by one delivery and resolved by a later one of another group lands on the first one's incident", async () => {
    const i = await createIntegration({ name: 'prom-batch-share', type: 'alertmanager' });
    const ids = await storeTogether(i.id, [
      {
        g: '{}:{alertname="ShareA"}',
        alerts: [stored('share-x', 'ShareA'), stored('share-y', 'ShareA')],
      },
      { g: '{}:{alertname="ShareB"}', alerts: [stored('share-z', 'ShareB')] },
      { g: '{}:{alertname="ShareC"}', alerts: [stored('share-x', 'ShareA', 'resolved')] },
    ]);
    await processed(i, 3);
    // Recorded together, the resolve with them: one transaction (the third delivery, with a
    // resolve to look at for `monitoring`, then took a step of its own).
    const rows = await txOf(ids);
    expect(rows[1].tx).toBe(rows[0].tx);
    const [resolvedTx] = await sql<{ tx: string }>(
      `SELECT xmin::text AS tx FROM incident_timeline WHERE kind = 'alert.resolved' AND dedupe_key LIKE $1`,
      [`%:resolved:${ids[2]}`],
    );
    expect(resolvedTx.tx).toBe(rows[0].tx);
    const [x] = await sql<{ incident_id: string; status: string }>(
      `SELECT incident_id, status FROM alerts WHERE integration_id = $1 AND fingerprint = 'share-x'`,
      [i.id],
    );
    expect(x.status).toBe('resolved');
    const ref = (await get(`/incidents/${x.incident_id}`)).body.ref as string;
    const timeline = await timelineOf(ref);
    expect(timeline.filter((e) => e.kind === 'alert.fired').map((e) => e.summary)).toEqual([
      'firing: ShareA on share-x — ShareA on share-x',
      'firing: ShareA on share-y — ShareA on share-y',
    ]);
    expect(timeline.filter((e) => e.kind === 'alert.resolved').map((e) => e.summary)).toEqual([
      'resolved: ShareA on share-x',
    ]);
    // share-z opened its own group's incident.
    const [z] = await sql<{ incident_id: string }>(
      `SELECT incident_id FROM alerts WHERE integration_id = $1 AND fingerprint = 'share-z'`,
      [i.id],
    );
    expect(z.incident_id).not.toBe(x.incident_id);
  });

  it('a batch counts the ingest limit delivery by delivery: the ones received over it are held back whole, told once, counted', async () => {
    await clearOfDayEnd();
    const i = await createIntegration({
      name: 'prom-batch-limit',
      type: 'alertmanager',
      ingestLimit: { max: 3, windowSeconds: 86_400 },
    });
    const ids = await storeTogether(
      i.id,
      [
        [stored('lim-1', 'Lim1'), stored('lim-2', 'Lim1')],
        [stored('lim-3', 'Lim2')],
        [stored('lim-4', 'Lim3')],
        [stored('lim-5', 'Lim4'), stored('lim-6', 'Lim4')],
      ].map((alerts, k) => ({ g: `{}:{alertname="Lim${k + 1}"}`, alerts })),
    );
    await processed(i, 4);
    const rows = await txOf(ids);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    // 2 then 1 under the limit of 3; the third delivery came with 3 counted already: held back.
    expect(rows.map((r) => r.limited)).toEqual([false, false, true, true]);
    const [window] = await sql<{ count: number; suppressed: number; incident_id: string }>(
      `SELECT count, suppressed, incident_id FROM alert_rate_windows WHERE scope = $1`,
      [`ingest:${i.id}`],
    );
    expect(window).toMatchObject({ count: 6, suppressed: 3 });
    const told = (
      await timelineOf((await get(`/incidents/${window.incident_id}`)).body.ref)
    ).filter((e) => e.kind === 'alert.ingest_limited');
    expect(told).toHaveLength(1);
    expect(
      await metric('firebreak_alerts_ingest_limited_total{integration="prom-batch-limit"}'),
    ).toBe(3);
    const alerts = await sql<{ fingerprint: string; incident_id: string | null }>(
      `SELECT fingerprint, incident_id FROM alerts WHERE integration_id = $1 ORDER BY fingerprint`,
      [i.id],
    );
    // Held back: stored nowhere but on their deliveries.
    expect(alerts.map((a) => a.fingerprint)).toEqual(['lim-1', 'lim-2', 'lim-3']);
  });

  it('a batch that fails where its deliveries share the work is retried one delivery at a time: only the bad one waits out a backoff', async () => {
    const i = await createIntegration({ name: 'prom-batch-fail', type: 'alertmanager' });
    const ids = await storeTogether(
      i.id,
      ['Fail1', 'Fail2', 'Fail3', 'Fail4'].map((name, k) => ({
        g: `{}:{alertname="${name}"}`,
        // The third: a start time no alert can have (the intake's adapters never store one).
        alerts: [
          stored(`fail-${k}`, name, 'firing', k === 2 ? 'not a time' : '2026-12-01T10:00:00.000Z'),
        ],
      })),
    );
    const good = ids.filter((_, k) => k !== 2);
    await until('the three recorded', async () => {
      const [r] = await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM alert_deliveries WHERE id = ANY($1::bigint[]) AND processed_at IS NOT NULL`,
        [good],
      );
      return r.n === 3;
    });
    const rows = await txOf(ids);
    expect(rows.map((r) => r.attempts)).toEqual([0, 0, 1, 0]);
    expect(rows[2].error).toMatch(/Invalid time value/);
    const [bad] = await sql<{ processed_at: Date | null }>(
      'SELECT processed_at FROM alert_deliveries WHERE id = $1',
      [ids[2]],
    );
    expect(bad.processed_at).toBeNull();
  });

  it("a trigger's own storm limit overrides the integration's", async () => {
    await clearOfDayEnd();
    const o = await createIntegration({
      name: 'prom-own-storm',
      type: 'alertmanager',
      autoRun: ['diagnose-own-storm'],
      runLimit: { max: 100, windowSeconds: 86_400 },
    });
    for (const fp of ['os1', 'os2'])
      await send(
        o,
        payload(
          [{ fp, labels: { alertname: 'OwnStormTest', instance: 'localhost' } }],
          '{}:{alertname="OwnStormTest"}',
        ),
      );
    await processed(o, 2);
    const deliveries = await sql<{ runs: Array<{ suppressed?: string; execution?: string }> }>(
      'SELECT runs FROM alert_deliveries WHERE integration_id = $1 ORDER BY id',
      [o.id],
    );
    expect(deliveries.map((d) => Boolean(d.runs[0].execution))).toEqual([true, false]);
    expect(deliveries[1].runs[0].suppressed).toMatch(
      /storm guard: over 1 automatic runs per 24 h on localhost/,
    );
  });

  it('an automatic run the queue cannot take (Redis stopped) is recorded and retried with backoff, and starts once Redis is back', async () => {
    const q = await createIntegration({
      name: 'prom-queue',
      type: 'alertmanager',
      autoRun: ['diagnose-queue'],
    });
    await redis.stop();
    await until('the queue down', async () => (await t.http().get('/health')).status === 503);
    await send(
      q,
      payload(
        [
          { fp: 'q1', labels: { alertname: 'QueueTest', instance: 'localhost' } },
          { fp: 'q2', labels: { alertname: 'QueueTest', instance: 'web-1' } },
        ],
        '{}:{alertname="QueueTest"}',
      ),
    );
    const [waiting] = await until('a failed attempt', async () => {
      const rows = await sql<{ id: string; state: string; attempts: number; error: string }>(
        'SELECT id::text, state, attempts, error FROM alert_deliveries WHERE integration_id = $1',
        [q.id],
      );
      return rows[0]?.attempts >= 1 ? rows : undefined;
    });
    expect(waiting.state).toBe('starting');
    expect(waiting.error).toMatch(/execution queue is unavailable/);
    const [{ incident_id }] = await sql<{ incident_id: string }>(
      'SELECT incident_id FROM alerts WHERE integration_id = $1',
      [q.id],
    );
    const ref = (await get(`/incidents/${incident_id}`)).body.ref as string;
    const deferred = (await timelineOf(ref)).filter((e) => e.kind === 'alert.run_deferred');
    expect(deferred).toHaveLength(1);
    expect(deferred[0].summary).toMatch(/diagnose-queue not started yet: .*retrying/);
    expect((await get('/executions?runbook=diagnose-queue')).body).toHaveLength(0);

    redis = await startRedis({ port: redis.port });
    await processed(q, 1);
    // Exactly one run per runbook × node, each under its business key.
    const runs = await sql<{
      id: string;
      incident_id: string;
      targets: Array<{ name: string }>;
      schedule_fire: string;
    }>(
      `SELECT id::text, incident_id, targets, schedule_fire FROM executions
        WHERE runbook_name = 'diagnose-queue' ORDER BY schedule_fire`,
    );
    const [d] = await sql<{ runs: Array<{ alert: string; nodes: string[]; execution: string }> }>(
      'SELECT runs FROM alert_deliveries WHERE id = $1',
      [waiting.id],
    );
    expect(runs).toHaveLength(2);
    expect(d.runs.map((r) => r.nodes).sort()).toEqual([['localhost'], ['web-1']]);
    for (const r of d.runs) {
      const e = runs.find((x) => x.id === r.execution);
      expect(e?.targets.map((n) => n.name)).toEqual(r.nodes);
      expect(e?.schedule_fire).toBe(alertRunKey(waiting.id, { ...r, runbook: 'diagnose-queue' }));
    }
    expect(runs.every((r) => r.incident_id === ref)).toBe(true);
    const local = runs.find((r) => r.targets[0].name === 'localhost')!;
    expect((await waitFinished(t, local.id)).status).toBe('succeeded');
    const timeline = await timelineOf(ref);
    expect(timeline.filter((e) => e.kind === 'alert.run_deferred')).toHaveLength(1);
    expect(timeline.filter((e) => e.kind === 'alert.run_refused')).toHaveLength(0);
    expect(
      await metric('firebreak_alert_runs_deferred_total{integration="prom-queue"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('a run started before the process died (not recorded) is linked by its business key when the delivery is processed again, never started twice', async () => {
    const c = await createIntegration({
      name: 'prom-crash',
      type: 'alertmanager',
      autoRun: ['diagnose-crash'],
    });
    const processor = t.app.get(AlertProcessor);
    const started: string[] = [];
    // The process "dies" once between starting the run and recording it: the step rolls back.
    processor.testSeams.afterStart = (id) => {
      started.push(id);
      delete processor.testSeams.afterStart;
      throw new Error('the process died here (test)');
    };
    try {
      await send(
        c,
        payload(
          [{ fp: 'crash-1', labels: { alertname: 'CrashTest', instance: 'localhost' } }],
          '{}:{alertname="CrashTest"}',
        ),
      );
      const [died] = await until('the attempt that died', async () => {
        const rows = await sql<{ id: string; state: string; error: string | null }>(
          'SELECT id::text, state, error FROM alert_deliveries WHERE integration_id = $1',
          [c.id],
        );
        return rows[0]?.error ? rows : undefined;
      });
      expect(died.error).toMatch(/the process died here/);
      expect(died.state).toBe('starting');
      // Processed again now (not after the backoff): the started run is linked, not started again.
      await sql('UPDATE alert_deliveries SET next_attempt_at = now() WHERE id = $1', [died.id]);
      processor.kick();
      await processed(c, 1);
    } finally {
      delete processor.testSeams.afterStart;
    }
    expect(started).toHaveLength(1);
    const runs = await sql<{ id: string; schedule_fire: string; incident_id: string }>(
      "SELECT id::text, schedule_fire, incident_id FROM executions WHERE runbook_name = 'diagnose-crash'",
    );
    expect(runs.map((r) => r.id)).toEqual(started);
    const [d] = await sql<{ id: string; runs: Array<{ execution?: string; alert: string }> }>(
      'SELECT id::text, runs FROM alert_deliveries WHERE integration_id = $1',
      [c.id],
    );
    expect(d.runs.map((r) => r.execution)).toEqual(started);
    expect(runs[0].schedule_fire).toBe(
      alertRunKey(d.id, {
        alert: d.runs[0].alert,
        runbook: 'diagnose-crash',
        nodes: ['localhost'],
      }),
    );
    const timeline = await timelineOf(runs[0].incident_id);
    expect(timeline.filter((e) => e.kind === 'execution.started')).toHaveLength(1);
  });

  it('a delivery with one fingerprint twice is taken in order, as one alert at a time (the batched upsert)', async () => {
    const b = await createIntegration({ name: 'prom-twice', type: 'alertmanager' });
    const groupKey = '{}:{alertname="TwiceTest"}';
    const body = payload(
      [
        { fp: 'twice-1', labels: { alertname: 'TwiceTest', instance: 'db-3' } },
        { fp: 'twice-2', labels: { alertname: 'TwiceTest', instance: 'db-4' } },
        { fp: 'twice-1', status: 'resolved', labels: { alertname: 'TwiceTest', instance: 'db-3' } },
      ],
      groupKey,
    );
    await send(b, body);
    await processed(b, 1);
    const alerts = await sql<{ fingerprint: string; status: string; incident_id: string }>(
      'SELECT fingerprint, status, incident_id FROM alerts WHERE integration_id = $1 ORDER BY fingerprint',
      [b.id],
    );
    expect(alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      ['twice-1', 'resolved'],
      ['twice-2', 'firing'],
    ]);
    const kinds = (await timelineOf(alerts[0].incident_id))
      .filter((e) => e.kind.startsWith('alert.'))
      .map((e) => `${e.kind} ${String((e.details as { fingerprint?: string }).fingerprint)}`);
    // As one at a time: the resolve came before the incident was opened, so only the firings
    // are on its timeline (twice-1 resolved on its row).
    expect(kinds).toEqual(['alert.fired twice-1', 'alert.fired twice-2']);
  });

  it('a runbook added, changed or disabled after the processor read the runbooks is what the next alert sees', async () => {
    const l = await createIntegration({ name: 'prom-late', type: 'alertmanager', autoRun: ['*'] });
    const late = (fp: string) =>
      send(
        l,
        payload(
          [{ fp, labels: { alertname: 'LateTest', instance: 'localhost' } }],
          `{}:{alertname="LateTest",fp="${fp}"}`,
        ),
      );
    const runs = async () =>
      ((await get('/executions?runbook=diagnose-late')).body as unknown[]).length;
    await late('late-1');
    await processed(l, 1);
    expect(await runs()).toBe(0);
    const saved = await t
      .http()
      .post('/runbooks')
      .set({ Authorization: t.adminAuth, 'Content-Type': 'application/yaml' })
      .send(runbookOn('diagnose-late', 'LateTest'));
    expect(saved.status, JSON.stringify(saved.body)).toBeLessThan(300);
    await late('late-2');
    await processed(l, 2);
    expect(await runs()).toBe(1);
    const off = await t
      .http()
      .post('/runbooks/diagnose-late/disable')
      .set('Authorization', t.adminAuth)
      .send({ reason: 'test' });
    expect(off.status, JSON.stringify(off.body)).toBeLessThan(300);
    await late('late-3');
    await processed(l, 3);
    expect(await runs()).toBe(1);
  });

  // Last: it stops this app's processor and plays two processes' parts by hand.
  it('deliveries of one group are recorded in the order they were stored, even when another process holds the older one', async () => {
    const o = await createIntegration({ name: 'prom-order', type: 'alertmanager' });
    const processor = t.app.get(AlertProcessor);
    await processor.onModuleDestroy();
    const groupKey = '{}:{alertname="OrderTest"}';
    const labels = { alertname: 'OrderTest', instance: 'db-9' };
    const stored = async (status: string) => {
      const [row] = await sql<{ id: string }>(
        `INSERT INTO alert_deliveries (integration_id, state, group_key, alerts, audited)
         VALUES ($1, 'received', $2, $3::jsonb, true) RETURNING id::text`,
        [
          o.id,
          groupKey,
          JSON.stringify([
            {
              source: 'alertmanager',
              fingerprint: 'order-1',
              status,
              labels,
              annotations: { summary: 'replica lag on db-9' },
              startsAt: '2026-12-01T10:00:00Z',
              endsAt: status === 'resolved' ? '2026-12-01T10:01:00Z' : null,
              generatorURL: null,
              groupKey,
            },
          ]),
        ],
      );
      return row.id;
    };
    const firing = await stored('firing');
    const resolve = await stored('resolved');
    // Another process holds the firing (its transaction is under way).
    const other = t.app.get(DataSource).createQueryRunner();
    await other.connect();
    await other.startTransaction();
    try {
      await other.query('SELECT 1 FROM alert_deliveries WHERE id = $1 FOR UPDATE', [firing]);
      // This process must not record the resolve first (it would never see the alert fire).
      while (await processor.processOne());
      const [r] = await sql<{ state: string }>('SELECT state FROM alert_deliveries WHERE id = $1', [
        resolve,
      ]);
      expect(r.state).toBe('received');
    } finally {
      await other.rollbackTransaction();
      await other.release();
    }
    while (await processor.processOne());
    await processed(o, 2);
    const [alert] = await sql<{ status: string; incident_id: string }>(
      'SELECT status, incident_id FROM alerts WHERE integration_id = $1',
      [o.id],
    );
    expect(alert.status).toBe('resolved');
    const incident = (await get(`/incidents/${alert.incident_id}`)).body as {
      ref: string;
      status: string;
    };
    expect(incident.status).toBe('monitoring');
    const kinds = (await timelineOf(incident.ref))
      .map((e) => e.kind)
      .filter((k) => k.startsWith('alert.'));
    expect(kinds).toEqual(['alert.fired', 'alert.resolved']);
  });
  it('a group that appears mid-storm is recorded in the next round, not after the backlog ahead of it; its receipt first', async () => {
    const i = await createIntegration({ name: 'prom-fresh', type: 'alertmanager' });
    const processor = t.app.get(AlertProcessor);
    // Stopped (as by the test before): this test takes the rounds itself.
    await processor.onModuleDestroy();
    // A storm: 600 deliveries in 3 groups, receipts not yet written; then a new group.
    const backlog = await storeTogether(
      i.id,
      Array.from({ length: 600 }, (_, k) => ({
        g: `{}:{alertname="Storm${k % 3}"}`,
        alerts: [stored(`storm-${k % 30}`, `Storm${k % 3}`)],
      })),
    );
    const [fresh] = await storeTogether(i.id, [
      { g: '{}:{alertname="DiskFull"}', alerts: [stored('disk-1', 'DiskFull')] },
    ]);
    // One round, without the receipts' batch: at most 20 deliveries recorded.
    await processor.processOne();
    const [row] = await sql<{ state: string; audited: boolean }>(
      'SELECT state, audited FROM alert_deliveries WHERE id = $1',
      [fresh],
    );
    expect(row).toEqual({ state: 'processed', audited: true });
    const [{ pending }] = await sql<{ pending: number }>(
      'SELECT count(*)::int AS pending FROM alert_deliveries WHERE id = ANY($1::bigint[]) AND processed_at IS NULL',
      [backlog],
    );
    expect(pending).toBeGreaterThanOrEqual(580);
    // Its receipt came before what it did (the incident it opened) on the audit trail.
    const [receipt] = await sql<{ seq: string }>(
      `SELECT id::text AS seq FROM audit_log WHERE action = 'alert.received' AND details->>'delivery' = $1`,
      [fresh],
    );
    const [opened] = await sql<{ seq: string }>(
      `SELECT l.id::text AS seq FROM audit_log l
         JOIN alerts a ON a.incident_id::text = l.subject_id
        WHERE l.action = 'incident.declare' AND a.integration_id = $1 AND a.fingerprint = 'disk-1'`,
      [i.id],
    );
    expect(BigInt(receipt.seq)).toBeLessThan(BigInt(opened.seq));
    // A second new group, stored while the backlog is still there: found by the next look,
    // which starts where this one ended.
    const [second] = await storeTogether(i.id, [
      { g: '{}:{alertname="CertExpiry"}', alerts: [stored('cert-1', 'CertExpiry')] },
    ]);
    await processor.processOne();
    const [row2] = await sql<{ state: string }>(
      'SELECT state FROM alert_deliveries WHERE id = $1',
      [second],
    );
    expect(row2.state).toBe('processed');
    // The rest: every delivery recorded once, with exactly one receipt each.
    while ((await processor.auditReceived()) || (await processor.processOne()));
    await processed(i, 602);
    const receipts = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.received' AND subject_id = $1
        GROUP BY details->>'delivery'`,
      [i.id],
    );
    expect(receipts).toHaveLength(602);
    expect(receipts.every((r) => r.n === 1)).toBe(true);
  });
});
