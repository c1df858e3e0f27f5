import { startTestApp, type TestApp } from './support/app.js';

interface OpenApiOperation {
  security?: Array<Record<string, unknown>>;
  'x-public'?: boolean;
}

describe('API conventions (real app)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT: '2kb' });
  });
  afterAll(async () => t.close());

  it('every route that is not marked public answers 401 without a token', async () => {
    const doc = (await t.http().get('/api/docs-json')).body as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const res = await t.http()[method as 'get'](url).send({});
        if (op['x-public']) {
          expect(op.security, `${method} ${path}`).toEqual([]);
          expect(res.status, `${method} ${path}`).not.toBe(401);
        } else {
          expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
          expect([res.status, res.body.code], `${method} ${path}`).toEqual([401, 'AUTH_REQUIRED']);
          checked.push(`${method.toUpperCase()} ${path}`);
        }
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        'GET /users',
        'PATCH /users/{id}',
        'GET /audit',
        'GET /audit/verify',
        'POST /auth/tokens',
      ]),
    );
  });

  it('documents the public routes as public', async () => {
    const doc = (await t.http().get('/api/docs-json')).body as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    const publicOps = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op['x-public'])
        .map(([m]) => `${m.toUpperCase()} ${p}`),
    );
    expect(publicOps.sort()).toEqual([
      'GET /health',
      'GET /metrics',
      'POST /auth/login',
      'POST /hooks/alertmanager/{id}',
      'POST /hooks/cloudevents/{id}',
      'POST /hooks/generic/{id}',
      'POST /hooks/grafana/{id}',
      'POST /hooks/pagerduty/{id}',
      'POST /slack/commands',
      'POST /slack/interactions',
    ]);
  });

  it('unknown routes answer 404 as JSON', async () => {
    const res = await t.http().get('/no/such/route').set('Authorization', t.adminAuth);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND', message: 'no route GET /no/such/route' });
  });

  it('malformed JSON is a 400 naming the problem, without a stack trace', async () => {
    const res = await t
      .http()
      .post('/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"username": "admin", "password": ');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MALFORMED_REQUEST');
    expect(res.body.message).toMatch(/not valid JSON/);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/);
  });

  it('an oversized body is a 413 naming the limit', async () => {
    const res = await t
      .http()
      .post('/auth/login')
      .send({ username: 'admin', password: 'x'.repeat(4000) });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'request body is larger than the limit of 2048 bytes',
    });
  });

  it('unknown fields are refused by name and nothing is applied', async () => {
    const v = await t.userWithRoles(['viewer']);
    const res = await t
      .http()
      .patch(`/users/${v.id}`)
      .set('Authorization', t.adminAuth)
      .send({ displayName: 'Changed', isSuperuser: true });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { path: 'isSuperuser', message: 'property isSuperuser should not exist' },
    ]);
    const after = await t.http().get(`/users/${v.id}`).set('Authorization', t.adminAuth);
    expect(after.body.displayName).toBe(v.username);
  });

  it('a bad id in the path is a 400, not a database error', async () => {
    const res = await t.http().get('/users/not-a-uuid').set('Authorization', t.adminAuth);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('returns a request id on every response, and reuses a safe one from the caller', async () => {
    const res = await t.http().get('/health').set('X-Request-Id', 'trace-abc.123');
    expect(res.headers['x-request-id']).toBe('trace-abc.123');
    const unsafe = await t
      .http()
      .get('/health')
      .set('X-Request-Id', 'bad id with spaces and \u00e9'.repeat(3));
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const err = await t.http().get('/users').set('X-Request-Id', 'req-42');
    expect(err.body.requestId).toBe('req-42');
  });

  it('/health reports the database', async () => {
    const res = await t.http().get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    expect(res.body.info).not.toHaveProperty('redis');
  });

  it('/metrics exposes the request histogram by route pattern and status, and process metrics', async () => {
    const v = await t.userWithRoles(['viewer']);
    await t.http().get(`/users/${v.id}`).set('Authorization', v.auth);
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /firebreak_http_request_duration_seconds_count\{method="GET",route="\/users\/:id",status_code="200"\} [1-9]\d*/,
    );
    expect(res.text).toMatch(/firebreak_process_resident_memory_bytes \d+/);
    expect(res.text).not.toContain(v.id);
  });
});
