import { Writable } from 'node:stream';
import { PinoLogger } from 'nestjs-pino';
import { pinoHttp, type Options as PinoHttpOptions } from 'pino-http';
import { DataSource } from 'typeorm';
import { IntegrationsService } from '../src/alerts/integrations.service.js';
import { loggerOptions } from '../src/observability/logging.js';
import { startTestApp, type TestApp } from './support/app.js';

const payload = (fingerprint: string) => ({
  version: '4',
  groupKey: '{}:{alertname="LaneCheck"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'firebreak',
  groupLabels: { alertname: 'LaneCheck' },
  commonLabels: { alertname: 'LaneCheck' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.invalid',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'LaneCheck', instance: 'lane-1' },
      annotations: {},
      startsAt: '2026-12-01T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint,
    },
  ],
});

/**
 * The hook lane (src/alerts/hook-lane.ts) answers POST /hooks/<type>/<id> ahead of the general
 * pipeline: what that pipeline gives every request must still be there (request id, headers,
 * the access-log line without secrets, error bodies, the body limit), and the paths it leaves
 * to the Nest routes (another method, another case) must be guarded exactly as before.
 */
describe('the hook lane (real app and Postgres)', () => {
  let t: TestApp;
  let hook: { id: string; secret: string };
  const lines: string[] = [];
  let saved: unknown;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t
      .http()
      .post('/integrations')
      .set('Authorization', t.adminAuth)
      .send({ name: 'lane', type: 'alertmanager' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    hook = res.body as { id: string; secret: string };
    // The app's root logger, as nestjs-pino builds it (pino-http's own, with logging.ts's
    // options), at info and writing here instead of to stdout.
    saved = PinoLogger.root;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    (PinoLogger as unknown as { root: unknown }).root = pinoHttp(
      { ...loggerOptions(t.config).pinoHttp, level: 'info' } as PinoHttpOptions,
      sink,
    ).logger;
  });
  afterAll(async () => {
    (PinoLogger as unknown as { root: unknown }).root = saved;
    await t?.close();
  });
  const sql = <T>(q: string, p: unknown[] = []) => t.app.get(DataSource).query<T[]>(q, p);
  const url = () => `/hooks/alertmanager/${hook.id}`;

  it('a 202 with the request id given, a JSON API header set, no ETag, and one access-log line without the secret', async () => {
    lines.length = 0;
    const res = await t
      .http()
      .post(url())
      .set('Authorization', `Bearer ${hook.secret}`)
      .set('X-Request-Id', 'lane-req-1')
      .send(payload('lane-a'));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toEqual({ delivery: expect.stringMatching(/^\d+$/), alerts: 1 });
    expect(res.headers['x-request-id']).toBe('lane-req-1');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const [row] = await sql<{ request_id: string }>(
      'SELECT request_id FROM alert_deliveries WHERE id = $1',
      [res.body.delivery],
    );
    expect(row.request_id).toBe('lane-req-1');
    await vi.waitFor(() => expect(lines).toHaveLength(1));
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { id: 'lane-req-1', method: 'POST', url: url(), remoteAddress: expect.any(String) },
      res: { statusCode: 202 },
      responseTime: expect.any(Number),
    });
    expect(lines[0]).not.toContain(hook.secret);
  });

  it('errors: the one filter’s body with the request id; 401 logged at warn; 413 stores nothing', async () => {
    lines.length = 0;
    const denied = await t
      .http()
      .post(url())
      .set('Authorization', 'Bearer not-the-secret')
      .send(payload('lane-b'));
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({
      code: 'AUTH_REQUIRED',
      message: 'missing or wrong credentials for this hook',
      requestId: denied.headers['x-request-id'],
    });
    await vi.waitFor(() => expect(lines).toHaveLength(1));
    expect(JSON.parse(lines[0])).toMatchObject({ level: 40, res: { statusCode: 401 } });
    expect(lines[0]).not.toContain('not-the-secret');

    const [{ before }] = await sql<{ before: number }>(
      'SELECT count(*)::int AS before FROM alert_deliveries',
    );
    const big = await t
      .http()
      .post(url())
      .set('Authorization', `Bearer ${hook.secret}`)
      .send({ ...payload('lane-c'), padding: 'x'.repeat(t.config.bodyLimitBytes) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', requestId: expect.any(String) });
    const missing = await t
      .http()
      .post('/hooks/alertmanager/00000000-0000-4000-8000-000000000000')
      .set('Authorization', `Bearer ${hook.secret}`)
      .send(payload('lane-d'));
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('NOT_FOUND');
    const [{ after }] = await sql<{ after: number }>(
      'SELECT count(*)::int AS after FROM alert_deliveries',
    );
    expect(after).toBe(before);
  });

  it('what the lane leaves to the Nest routes is guarded the same: another case, a trailing slash, another method', async () => {
    // Express matches paths case-insensitively: the Nest route takes this one, with the same checks.
    const upper = `/HOOKS/Alertmanager/${hook.id}`;
    const noToken = await t.http().post(upper).send(payload('lane-e'));
    expect(noToken.status).toBe(401);
    expect(noToken.body.code).toBe('AUTH_REQUIRED');
    const withToken = await t
      .http()
      .post(upper)
      .set('Authorization', `Bearer ${hook.secret}`)
      .send(payload('lane-e'));
    expect(withToken.status).toBe(202);
    const slash = await t.http().post(`${url()}/`).send(payload('lane-f'));
    expect(slash.status).toBe(401);
    const get = await t.http().get(url()).set('Authorization', `Bearer ${hook.secret}`);
    expect(get.status).toBe(404);
    expect(get.body.code).toBe('NOT_FOUND');
    // Every refused request audited as such, whichever route answered.
    const refused = await t
      .http()
      .get(`/audit?action=alert.unauthenticated&subjectId=${hook.id}`)
      .set('Authorization', t.adminAuth);
    expect(refused.status).toBe(200);
    expect((refused.body as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(3);
    expect(t.app.get(IntegrationsService).cachedForHook(hook.id)).toBe(true);
  });
});
