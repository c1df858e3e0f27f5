import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { labelsFingerprint } from '../src/alerts/adapters/common.js';
import { signFirebreak } from '../src/alerts/hook-signatures.js';
import { IntegrationsService } from '../src/alerts/integrations.service.js';
import { AlertIntakeService } from '../src/alerts/alert-intake.service.js';
import type { Request } from 'express';
import { startTestApp, type TestApp } from './support/app.js';
import { waitFinished } from './support/fleet.js';

/** A diagnostic a Keptn remediation.triggered event starts, on the node its labels name. */
const RUNBOOK = `
name: diagnose-service
description: Looks at a service for a remediation request
kind: diagnostic
options:
  - name: service
    type: string
    pattern: '^[a-z0-9-]+$'
    required: true
steps:
  - name: look
    run: echo looking at {{ options.service }} on {{ node.name }}
triggers:
  - alert:
      match: { ce_type: sh.keptn.event.remediation.triggered }
    options: { service: '{{ alert.labels.service }}' }
    targets:
      nodes:
        names: ['{{ alert.labels.instance }}']
`;

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, 'fixtures', 'alerts', name));
const fixtureJson = <T = Record<string, unknown>>(name: string) =>
  JSON.parse(fixture(name).toString()) as T;

/** PagerDuty's published signing vector (go-pagerduty webhookv3_test.go). */
const PD_SECRET = 'lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK';
const PD_SIGNATURE = 'v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd';

const hmac = (secret: string, data: string | Buffer) =>
  createHmac('sha256', secret).update(data).digest('hex');
const now = () => Math.floor(Date.now() / 1000);

/** Polls `fn` until it returns something truthy (generous deadline; no timing assertions). */
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>) {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Integration {
  id: string;
  url: string;
  secret: string;
  type: string;
}

describe('alert sources: Grafana, PagerDuty V3, generic JSON, CloudEvents (real app and Postgres)', () => {
  let t: TestApp;
  let dir: string;
  const made: Record<string, Integration> = {};

  const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) =>
    t.app.get(DataSource).query<T[]>(query, params);
  const admin = () => ({ Authorization: t.adminAuth });
  const post = (type: string, id: string, body: string | Buffer, headers: Record<string, string>) =>
    t
      .http()
      .post(`/hooks/${type}/${id}`)
      .set({ 'Content-Type': 'application/json', ...headers })
      .send(typeof body === 'string' ? body : body.toString('utf8'));
  const denials = async (id: string) =>
    (
      await sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.unauthenticated' AND subject_id = $1`,
        [id],
      )
    )[0].n;
  const processed = (delivery: string) =>
    until(`delivery ${delivery} processed`, async () => {
      const [d] = await sql(`SELECT state FROM alert_deliveries WHERE id = $1`, [delivery]);
      return d?.state === 'processed';
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-alert-sources-'));
    writeFileSync(join(dir, 'diagnose-service.yaml'), RUNBOOK);
    t = await startTestApp({ RUNBOOKS_DIR: dir, LOCAL_NODE: 'true', BODY_LIMIT: '64kb' });
    const create = async (body: Record<string, unknown>) => {
      const res = await t.http().post('/integrations').set(admin()).send(body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      made[body.name as string] = res.body;
    };
    await create({ name: 'grafana-token', type: 'grafana' });
    await create({
      name: 'grafana-signed',
      type: 'grafana',
      timestampHeader: 'X-Grafana-Alerting-Timestamp',
    });
    await create({ name: 'pagerduty', type: 'pagerduty' });
    await create({ name: 'generic', type: 'generic' });
    await create({ name: 'keptn', type: 'cloudevents', autoRun: ['diagnose-service'] });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every secret write-only: shown once, sealed at rest, in no later response', async () => {
    for (const i of Object.values(made)) {
      expect(i.url).toMatch(new RegExp(`/hooks/${i.type}/${i.id}$`));
      expect(i.secret).toMatch(/^fbi_/);
      const again = await t.http().get(`/integrations/${i.id}`).set(admin());
      expect(JSON.stringify(again.body)).not.toContain(i.secret);
    }
    const list = await t.http().get('/integrations').set(admin());
    expect(JSON.stringify(list.body)).not.toMatch(/fbi_|secret/i);
    const rows = await sql<{ secret_ciphertext: Buffer }>(
      `SELECT secret_ciphertext FROM alert_integrations`,
    );
    expect(rows).toHaveLength(5);
    for (const r of rows) expect(r.secret_ciphertext.toString('latin1')).not.toContain('fbi_');
    const audit = await sql<{ d: string }>(`SELECT details::text AS d FROM audit_log`);
    for (const i of Object.values(made))
      expect(audit.some((a) => a.d.includes(i.secret))).toBe(false);
    // Grafana-only settings are refused elsewhere, naming the field.
    const bad = await t
      .http()
      .post('/integrations')
      .set(admin())
      .send({ name: 'generic-2', type: 'generic', timestampHeader: 'X-Ts' });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([
      { path: 'timestampHeader', message: 'only a grafana integration has it' },
    ]);
  });

  it('Grafana: bearer or basic auth; mixed statuses become firing and resolved alerts', async () => {
    const g = made['grafana-token'];
    const body = fixtureJson<{ alerts: Array<Record<string, unknown>> }>('grafana-webhook.json');
    body.alerts[1].status = 'resolved';
    body.alerts[1].endsAt = '2021-10-12T10:01:03.157076+02:00';
    const res = await post('grafana', g.id, JSON.stringify(body), {
      Authorization: `Bearer ${g.secret}`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.alerts).toBe(2);
    await processed(res.body.delivery);
    const alerts = await sql(
      `SELECT fingerprint, status, incident_id FROM alerts WHERE integration_id = $1 ORDER BY fingerprint`,
      [g.id],
    );
    expect(alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      ['bc97ff14869b13e3', 'resolved'],
      ['c6eadffa33fcdf37', 'firing'],
    ]);
    expect(alerts.find((a) => a.status === 'firing')!.incident_id).toBeTruthy();
    const basic = Buffer.from(`grafana:${g.secret}`).toString('base64');
    expect(
      (await post('grafana', g.id, JSON.stringify(body), { Authorization: `Basic ${basic}` }))
        .status,
    ).toBe(202);
  });

  it('Grafana: the HMAC signature over "<timestamp>:<body>" when a timestamp header is configured', async () => {
    const g = made['grafana-signed'];
    const raw = fixture('grafana-webhook.json');
    const ts = String(now());
    const signed = (sig: string, stamp = ts) =>
      post('grafana', g.id, raw, {
        'X-Grafana-Alerting-Signature': sig,
        'X-Grafana-Alerting-Timestamp': stamp,
      });
    const ok = await signed(hmac(g.secret, `${ts}:${raw.toString()}`));
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    const before = await denials(g.id);
    // Body-only signature, an old timestamp, no signature (even with the right bearer): refused.
    const old = String(now() - 3600);
    const refused = [
      await signed(hmac(g.secret, raw)),
      await signed(hmac(g.secret, `${old}:${raw.toString()}`), old),
      await post('grafana', g.id, raw, { Authorization: `Bearer ${g.secret}` }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({
        code: 'AUTH_REQUIRED',
        message: 'missing or wrong credentials for this hook',
      });
      expect(JSON.stringify(r.body)).not.toMatch(/signature|timestamp|window/i);
    }
    expect(await denials(g.id)).toBe(before + 3);
    const reasons = await sql(
      `SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'alert.unauthenticated' AND subject_id = $1 ORDER BY id`,
      [g.id],
    );
    expect(reasons.slice(-3).map((r) => r.reason)).toEqual([
      'wrong signature',
      'signature timestamp outside the replay window',
      'no signature',
    ]);
  });

  it("PagerDuty: the subscription's own secret, PagerDuty's published signed body; a replay is not a second delivery", async () => {
    const p = made.pagerduty;
    const set = await t
      .http()
      .post(`/integrations/${p.id}/secret`)
      .set(admin())
      .send({ secret: PD_SECRET });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(JSON.stringify(set.body)).not.toContain(PD_SECRET);
    const raw = fixture('pagerduty-signed-body.json');
    const first = await post('pagerduty', p.id, raw, { 'X-PagerDuty-Signature': PD_SIGNATURE });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const replay = await post('pagerduty', p.id, raw, {
      'X-PagerDuty-Signature': `v1=${'0'.repeat(64)},${PD_SIGNATURE}`,
    });
    expect(replay.status).toBe(202);
    expect(replay.body.delivery).toBe(first.body.delivery);
    await processed(first.body.delivery);
    expect(
      await sql(`SELECT id FROM alert_deliveries WHERE integration_id = $1`, [p.id]),
    ).toHaveLength(1);
    const [alert] = await sql(
      `SELECT fingerprint, status, labels, incident_id FROM alerts WHERE integration_id = $1`,
      [p.id],
    );
    expect(alert).toMatchObject({
      fingerprint: 'pagerduty:PGR0VU2',
      status: 'firing',
      labels: { alertname: 'A little bump in the road', priority: 'P1', urgency: 'high' },
    });
    expect(alert.incident_id).toBeTruthy();

    // The incident resolves: a fresh event, freshly signed, resolves the same alert.
    const resolved = JSON.parse(raw.toString());
    Object.assign(resolved.event, { id: 'resolved-1', event_type: 'incident.resolved' });
    resolved.event.data.status = 'resolved';
    const body = JSON.stringify(resolved);
    const r = await post('pagerduty', p.id, body, {
      'X-PagerDuty-Signature': `v1=${hmac(PD_SECRET, body)}`,
    });
    expect(r.status).toBe(202);
    await processed(r.body.delivery);
    const [after] = await sql(`SELECT status FROM alerts WHERE integration_id = $1`, [p.id]);
    expect(after.status).toBe('resolved');

    // An event that is not about an incident: understood, nothing stored.
    const noteBody = JSON.stringify(fixtureJson('pagerduty-service-updated.json'));
    const ignored = await post('pagerduty', p.id, noteBody, {
      'X-PagerDuty-Signature': `v1=${hmac(PD_SECRET, noteBody)}`,
    });
    expect(ignored.status).toBe(202);
    expect(ignored.body).toEqual({
      delivery: null,
      alerts: 0,
      ignored: 'service.updated is not an incident event',
    });
    const [audited] = await sql<{ actor_name: string; reason: string }>(
      `SELECT actor_name, details->>'reason' AS reason FROM audit_log WHERE action = 'alert.ignored' AND subject_id = $1`,
      [p.id],
    );
    expect(audited).toEqual({
      actor_name: 'integration:pagerduty',
      reason: 'service.updated is not an incident event',
    });
  });

  it('PagerDuty: a wrong, missing or old-secret signature is 401; the integration secret as a bearer is not enough', async () => {
    const p = made.pagerduty;
    const raw = fixture('pagerduty-signed-body.json');
    const before = await denials(p.id);
    const tries: Array<Record<string, string>> = [
      { 'X-PagerDuty-Signature': `v1=${hmac('another-secret', raw)}` },
      {},
      // The secret made at creation was replaced by PagerDuty's: it signs nothing any more.
      { 'X-PagerDuty-Signature': `v1=${hmac(p.secret, raw)}` },
      { Authorization: `Bearer ${PD_SECRET}` },
    ];
    for (const h of tries) expect((await post('pagerduty', p.id, raw, h)).status).toBe(401);
    expect(await denials(p.id)).toBe(before + tries.length);
  });

  it('an integration answers only on its own type: no walk-around through another source URL', async () => {
    const g = made['grafana-token'];
    const raw = fixture('pagerduty-signed-body.json');
    for (const [type, i] of [
      ['pagerduty', g],
      ['alertmanager', g],
      ['generic', made.keptn],
      ['cloudevents', made.generic],
    ] as const) {
      const res = await post(type, i.id, raw, {
        Authorization: `Bearer ${i.secret}`,
        'X-PagerDuty-Signature': PD_SIGNATURE,
      });
      expect(res.status).toBe(404);
    }
    expect((await post('generic', randomUUID(), '{}', {})).status).toBe(404);
    expect((await post('generic', 'not-a-uuid', '{}', {})).status).toBe(404);
  });

  it('generic JSON: HMAC with a timestamp (or a bearer); fingerprints from the sorted labels', async () => {
    const g = made.generic;
    const body = JSON.stringify([
      {
        status: 'firing',
        labels: { alertname: 'DiskFull', instance: 'web-1' },
        annotations: { summary: 'disk full' },
        links: [{ href: 'https://grafana.example/d/disk' }],
      },
    ]);
    const ts = now();
    const res = await post('generic', g.id, body, {
      'X-Firebreak-Timestamp': String(ts),
      'X-Firebreak-Signature': signFirebreak(g.secret, body, ts),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await processed(res.body.delivery);
    const rows = await sql(
      `SELECT fingerprint, generator_url FROM alerts WHERE integration_id = $1`,
      [g.id],
    );
    expect(rows).toEqual([
      {
        fingerprint: labelsFingerprint({ alertname: 'DiskFull', instance: 'web-1' }),
        generator_url: 'https://grafana.example/d/disk',
      },
    ]);
    // The same labels in another order are the same alert: a repeat, not a second one.
    const again = JSON.stringify([
      { status: 'firing', labels: { instance: 'web-1', alertname: 'DiskFull' } },
    ]);
    const r2 = await post('generic', g.id, again, { Authorization: `Bearer ${g.secret}` });
    expect(r2.status).toBe(202);
    await processed(r2.body.delivery);
    expect(await sql(`SELECT id FROM alerts WHERE integration_id = $1`, [g.id])).toHaveLength(1);
    // Replay outside the window, a signature over other bytes: 401.
    const old = ts - 3600;
    for (const h of [
      {
        'X-Firebreak-Timestamp': String(old),
        'X-Firebreak-Signature': signFirebreak(g.secret, body, old),
      },
      {
        'X-Firebreak-Timestamp': String(ts),
        'X-Firebreak-Signature': signFirebreak(g.secret, `${body} `, ts),
      },
    ])
      expect((await post('generic', g.id, body, h)).status).toBe(401);
  });

  it('an integration whose secret was stored before it was sealed takes no signature (its bearer still works)', async () => {
    const g = made.generic;
    const saved = await sql<{ c: Buffer; iv: Buffer; tag: Buffer }>(
      `SELECT secret_ciphertext AS c, secret_iv AS iv, secret_auth_tag AS tag FROM alert_integrations WHERE id = $1`,
      [g.id],
    );
    await sql(
      `UPDATE alert_integrations SET secret_ciphertext = NULL, secret_iv = NULL, secret_auth_tag = NULL WHERE id = $1`,
      [g.id],
    );
    // The change reaches the hook cache by NOTIFY, a moment after the commit.
    const integrations = t.app.get(IntegrationsService);
    await until('the cached integration dropped', async () => !integrations.cachedForHook(g.id));
    try {
      const body = JSON.stringify({ status: 'firing', labels: { alertname: 'Old' } });
      const ts = now();
      const signed = await post('generic', g.id, body, {
        'X-Firebreak-Timestamp': String(ts),
        'X-Firebreak-Signature': signFirebreak(g.secret, body, ts),
      });
      expect(signed.status).toBe(401);
      const [last] = await sql<{ reason: string }>(
        `SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'alert.unauthenticated' AND subject_id = $1 ORDER BY id DESC LIMIT 1`,
        [g.id],
      );
      expect(last.reason).toBe('no signing secret stored: set the secret again');
      const bearer = await post('generic', g.id, body, { Authorization: `Bearer ${g.secret}` });
      expect(bearer.status).toBe(202);
    } finally {
      await sql(
        `UPDATE alert_integrations SET secret_ciphertext = $2, secret_iv = $3, secret_auth_tag = $4 WHERE id = $1`,
        [g.id, saved[0].c, saved[0].iv, saved[0].tag],
      );
      await until('the cached integration dropped', async () => !integrations.cachedForHook(g.id));
    }
  });

  it('a body the adapter does not understand: 400 naming the field, stored as rejected, counted; never a 500', async () => {
    const g = made.generic;
    const auth = { Authorization: `Bearer ${g.secret}` };
    const bad = JSON.stringify({ alerts: [{ status: 'pending', labels: { a: 'b' } }] });
    const res = await post('generic', g.id, bad, auth);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.details).toEqual([expect.objectContaining({ path: 'alerts[0].status' })]);
    const malformed = await post('generic', g.id, '{"alerts": [', auth);
    expect(malformed.status).toBe(400);
    expect(malformed.body.details[0].path).toBe('body');
    const nul = await post('generic', g.id, '{"status":"firing","labels":{"a":"\\u0000"}}', auth);
    expect(nul.status).toBe(400);
    const rejected = await sql<{ error: string; payload: Buffer; processed_at: Date }>(
      `SELECT error, payload, processed_at FROM alert_deliveries WHERE integration_id = $1 AND state = 'rejected' ORDER BY id`,
      [g.id],
    );
    expect(rejected).toHaveLength(3);
    expect(rejected[0].payload.toString()).toBe(bad);
    expect(JSON.parse(rejected[0].error)[0].path).toBe('alerts[0].status');
    expect(rejected.every((r) => r.processed_at)).toBe(true);
    const metrics = await t.http().get('/metrics');
    expect(metrics.text).toMatch(
      /firebreak_alert_hook_rejected_total\{source="generic",reason="invalid_payload"\} 3/,
    );
    expect(metrics.text).toMatch(
      /firebreak_alert_hook_rejected_total\{source="pagerduty",reason="unauthenticated"\} [1-9]/,
    );
    // Unauthenticated junk is refused before it is read, and never stored.
    expect((await post('generic', g.id, bad, { Authorization: 'Bearer nope' })).status).toBe(401);
    expect(
      await sql(
        `SELECT id FROM alert_deliveries WHERE integration_id = $1 AND state = 'rejected'`,
        [g.id],
      ),
    ).toHaveLength(3);
  });

  it('a body over the limit is 413, for every source', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
    for (const i of Object.values(made)) {
      const res = await post(i.type, i.id, big, { Authorization: `Bearer ${i.secret}` });
      expect(res.status).toBe(413);
    }
  });

  it('CloudEvents: a Keptn remediation.triggered (structured mode) opens an incident and runs the diagnostic on the node it names', async () => {
    const k = made.keptn;
    const event = fixtureJson<{ data: { labels: Record<string, string> } }>(
      'keptn-remediation-triggered.json',
    );
    event.data.labels.instance = 'localhost';
    const res = await t
      .http()
      .post(`/hooks/cloudevents/${k.id}`)
      .set({ 'Content-Type': 'application/cloudevents+json', Authorization: `Bearer ${k.secret}` })
      .send(JSON.stringify(event));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await processed(res.body.delivery);
    const [alert] = await sql(
      `SELECT fingerprint, incident_id FROM alerts WHERE integration_id = $1`,
      [k.id],
    );
    expect(alert.fingerprint).toBe('keptn:a3e5f16d-8888-4720-82c7-6995062905c1');
    expect(alert.incident_id).toBeTruthy();
    const run = await until('the diagnostic run', async () => {
      const list = (await t.http().get('/executions?runbook=diagnose-service').set(admin()))
        .body as Array<{ id: string; trigger: string; actor: string }>;
      return list[0];
    });
    expect(run).toMatchObject({ trigger: 'alert', actor: 'integration:keptn' });
    expect((await waitFinished(t, run.id)).status).toBe('succeeded');
  });

  it('CloudEvents: binary mode (ce-* headers) with a signature; the same event twice is one delivery; batches are 415', async () => {
    const k = made.keptn;
    const data = JSON.stringify({
      project: 'sockshop',
      service: 'carts',
      labels: { instance: 'db-9' },
    });
    const ts = now();
    const binary = () =>
      post('cloudevents', k.id, data, {
        'ce-specversion': '1.0',
        'ce-type': 'com.example.disk.full',
        'ce-source': '/monitoring/disk',
        'ce-id': 'evt-42',
        'ce-subject': 'db-9',
        'X-Firebreak-Timestamp': String(ts),
        'X-Firebreak-Signature': signFirebreak(k.secret, data, ts),
      });
    const first = await binary();
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const second = await binary();
    expect(second.body.delivery).toBe(first.body.delivery);
    await processed(first.body.delivery);
    const rows = await sql(
      `SELECT labels FROM alerts WHERE integration_id = $1 AND labels->>'ce_type' = 'com.example.disk.full'`,
      [k.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].labels).toMatchObject({
      service: 'carts',
      instance: 'db-9',
      ce_subject: 'db-9',
    });
    const missing = await post('cloudevents', k.id, data, { Authorization: `Bearer ${k.secret}` });
    expect(missing.status).toBe(400);
    expect(missing.body.details.map((d: { path: string }) => d.path)).toContain(
      'header ce-specversion',
    );
    const batch = await t
      .http()
      .post(`/hooks/cloudevents/${k.id}`)
      .set({
        'Content-Type': 'application/cloudevents-batch+json',
        Authorization: `Bearer ${k.secret}`,
      })
      .send('[]');
    expect(batch.status).toBe(415);
  });

  it('PATCH changes settings (admins only, audited): a timestamp header added later is enforced; a disabled integration takes nothing', async () => {
    const g = made['grafana-token'];
    const patch = (id: string, body: object, auth = t.adminAuth) =>
      t.http().patch(`/integrations/${id}`).set('Authorization', auth).send(body);
    const responder = await t.userWithRoles(['responder']);
    expect((await patch(g.id, { monitorOnResolve: false }, responder.auth)).status).toBe(403);
    const bad = await patch(g.id, { name: 'renamed', defaultSeverity: 'SEV9' });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'defaultSeverity',
      'name',
    ]);
    expect((await patch(made.generic.id, { timestampHeader: 'X-Ts' })).status).toBe(400);

    const res = await patch(g.id, { timestampHeader: 'X-Grafana-Alerting-Timestamp' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      timestampHeader: 'X-Grafana-Alerting-Timestamp',
      signatureHeader: 'X-Grafana-Alerting-Signature',
      severityLabel: 'severity',
    });
    expect(JSON.stringify(res.body)).not.toContain(g.secret);
    const raw = fixture('grafana-webhook.json');
    expect((await post('grafana', g.id, raw, { Authorization: `Bearer ${g.secret}` })).status).toBe(
      401,
    );
    const ts = String(now());
    const signed = await post('grafana', g.id, raw, {
      'X-Grafana-Alerting-Signature': hmac(g.secret, `${ts}:${raw.toString()}`),
      'X-Grafana-Alerting-Timestamp': ts,
    });
    expect(signed.status).toBe(202);

    expect((await patch(g.id, { disabled: true })).body.disabled).toBe(true);
    expect((await post('grafana', g.id, raw, { Authorization: `Bearer ${g.secret}` })).status).toBe(
      404,
    );
    const audit = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'integration.update' AND subject_id = $1`,
      [g.id],
    );
    expect(audit[0].n).toBe(2);
  });

  it('while the intake is saturated, processing pauses to leave it the CPU (counted), and still processes everything; one request at a time never pauses it', async () => {
    const g = made.generic;
    const bearer = { Authorization: `Bearer ${g.secret}` };
    const body = (n: number) =>
      JSON.stringify({
        alerts: [{ status: 'firing', labels: { alertname: 'Saturated', n: String(n) } }],
      });
    const yielded = async () =>
      Number(
        /^firebreak_alert_processing_yielded_seconds_total (\S+)$/m.exec(
          (await t.http().get('/metrics')).text,
        )?.[1],
      );
    const allProcessed = () =>
      until('every delivery processed', async () => {
        const [{ n }] = await sql<{ n: number }>(
          'SELECT count(*)::int AS n FROM alert_deliveries WHERE processed_at IS NULL',
        );
        return n === 0;
      });
    await allProcessed();
    const before = await yielded();
    for (let n = 0; n < 5; n++) {
      const r = await post('generic', g.id, body(n), bearer);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      await processed(r.body.delivery);
    }
    expect(await yielded()).toBe(before);
    // 60 deliveries reaching the intake at once (as from 60 busy connections; requests from
    // this same process reach it one at a time): one statement takes the first, the next the
    // 59 that waited for it. Again while no pause was counted (a loaded machine may take the
    // processor's first transaction past the saturated window).
    const intake = t.app.get(AlertIntakeService);
    const integration = (await t.app.get(IntegrationsService).forHook('generic', g.id))!;
    const req = { ip: '127.0.0.1', id: 'saturated-test' } as unknown as Request;
    const burst = (round: number) =>
      Promise.all(
        Array.from({ length: 60 }, (_, n) =>
          intake.store(
            integration,
            {
              groupKey: 'saturated',
              truncated: 0,
              alerts: [
                {
                  source: 'generic',
                  fingerprint: `saturated-${round}-${n}`,
                  status: 'firing',
                  labels: { alertname: 'Saturated', n: String(n) },
                  annotations: {},
                  startsAt: null,
                  endsAt: null,
                  generatorURL: null,
                  groupKey: 'saturated',
                },
              ],
            },
            req,
          ),
        ),
      );
    for (let round = 0; round < 5 && (await yielded()) === before; round++) {
      expect(new Set(await burst(round)).size).toBe(60);
      await allProcessed();
    }
    await until('the pause counted', async () => (await yielded()) > before);
  });

  it('deliveries arriving at once are stored together, each answered with its own id; one event id sent at once is one delivery', async () => {
    const g = made.generic;
    const bearer = { Authorization: `Bearer ${g.secret}` };
    const body = (n: number, eventId?: string) =>
      JSON.stringify({
        ...(eventId ? { eventId } : {}),
        alerts: [{ status: 'firing', labels: { alertname: 'Burst', n: String(n) } }],
      });
    const distinct = await Promise.all(
      Array.from({ length: 40 }, (_, n) => post('generic', g.id, body(n), bearer)),
    );
    const sameEvent = await Promise.all(
      Array.from({ length: 8 }, (_, n) => post('generic', g.id, body(100 + n, 'burst-1'), bearer)),
    );
    for (const r of [...distinct, ...sameEvent]) expect(r.status, JSON.stringify(r.body)).toBe(202);
    const ids = distinct.map((r) => r.body.delivery as string);
    expect(new Set(ids).size).toBe(40);
    // Each answer names the delivery that holds that request's alert.
    const rows = await sql<{ id: string; n: string }>(
      `SELECT id::text AS id, alerts->0->'labels'->>'n' AS n FROM alert_deliveries WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r.n]));
    ids.forEach((id, n) => expect(byId.get(id)).toBe(String(n)));
    expect(new Set(sameEvent.map((r) => r.body.delivery)).size).toBe(1);
    const [{ n }] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM alert_deliveries WHERE integration_id = $1 AND event_id = 'burst-1'`,
      [g.id],
    );
    expect(n).toBe(1);
  });

  it("a change to an integration made elsewhere (another process, SQL) drops it from every process's hook cache", async () => {
    const g = made.generic;
    const integrations = t.app.get(IntegrationsService);
    const bearer = { Authorization: `Bearer ${g.secret}` };
    const alert = JSON.stringify({ status: 'firing', labels: { alertname: 'Cached' } });
    expect((await post('generic', g.id, alert, bearer)).status).toBe(202);
    expect(integrations.cachedForHook(g.id)).toBe(true);
    // Not through this process's service: only the database's notice can tell it.
    await sql(`UPDATE alert_integrations SET disabled = true WHERE id = $1`, [g.id]);
    await until('the cached integration dropped', async () => !integrations.cachedForHook(g.id));
    expect((await post('generic', g.id, alert, bearer)).status).toBe(404);
    // The 404 read and cached the disabled row: the next change's notice drops it again.
    expect(integrations.cachedForHook(g.id)).toBe(true);
    await sql(`UPDATE alert_integrations SET disabled = false WHERE id = $1`, [g.id]);
    await until('the cached integration dropped', async () => !integrations.cachedForHook(g.id));
    expect((await post('generic', g.id, alert, bearer)).status).toBe(202);
  });
  it('text Postgres cannot store (NUL, an unpaired surrogate), wherever a source puts it: 400 naming the field, stored as rejected; never a 500', async () => {
    const created = await t
      .http()
      .post('/integrations')
      .set(admin())
      .send({ name: 'grafana-text', type: 'grafana' });
    expect(created.status).toBe(201);
    const g = created.body as Integration;
    const k = made.keptn;
    const rejectedOf = async (id: string) =>
      (
        await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM alert_deliveries WHERE integration_id = $1 AND state = 'rejected'`,
          [id],
        )
      )[0].n;
    const [grafanaBefore, keptnBefore] = [await rejectedOf(g.id), await rejectedOf(k.id)];
    // JSON.stringify keeps an unpaired surrogate as its \ud800 escape, as a sender's body has it.
    const grafana = await post(
      'grafana',
      g.id,
      JSON.stringify({
        status: 'firing',
        groupKey: '{}:{alertname="Lone"}',
        alerts: [{ status: 'firing', labels: { alertname: 'Lone\ud800' }, fingerprint: 'lone' }],
      }),
      { Authorization: `Bearer ${g.secret}` },
    );
    expect(grafana.status, JSON.stringify(grafana.body)).toBe(400);
    expect(grafana.body.details).toEqual([
      {
        path: 'alerts[0].labels.alertname',
        message: 'must not contain NUL characters or unpaired surrogates',
      },
    ]);
    // CloudEvents: a Keptn status (an annotation of the alert) with a NUL; binary mode names the
    // body's field.
    const event = fixtureJson<{ data: Record<string, unknown> }>(
      'keptn-remediation-triggered.json',
    );
    event.data.status = 'errored\u0000';
    const keptn = await t
      .http()
      .post(`/hooks/cloudevents/${k.id}`)
      .set({ 'Content-Type': 'application/cloudevents+json', Authorization: `Bearer ${k.secret}` })
      .send(JSON.stringify(event));
    expect(keptn.status, JSON.stringify(keptn.body)).toBe(400);
    expect(keptn.body.details[0].path).toBe('data.status');
    expect(await rejectedOf(g.id)).toBe(grafanaBefore + 1);
    expect(await rejectedOf(k.id)).toBe(keptnBefore + 1);
    expect(
      await sql(`SELECT 1 FROM alerts WHERE fingerprint = 'lone' AND integration_id = $1`, [g.id]),
    ).toEqual([]);
  });
});
