import { startTestApp, type TestApp } from './support/app.js';

/** Security headers and CORS, on the real app: what a browser (the console) gets. */
describe('HTTP hygiene (real app)', () => {
  let closed: TestApp;
  let open: TestApp;
  const CONSOLE = 'https://console.example.com';

  beforeAll(async () => {
    closed = await startTestApp({});
    open = await startTestApp({ CORS_ORIGINS: `${CONSOLE}, http://localhost:5173` });
  });
  afterAll(async () => {
    await closed?.close();
    await open?.close();
  });

  it('every response carries the security headers, errors and public routes included', async () => {
    for (const [path, status] of [
      ['/health', 200],
      ['/executions', 401],
      ['/no-such-route', 404],
    ] as const) {
      const res = await closed.http().get(path);
      expect(res.status, path).toBe(status);
      const csp = String(res.headers['content-security-policy']);
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self'");
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
      expect(res.headers['referrer-policy'], path).toBe('no-referrer');
      expect(res.headers['x-frame-options'], path).toBe('SAMEORIGIN');
      expect(res.headers['x-powered-by'], path).toBeUndefined();
    }
  });

  it('CORS is closed by default: no origin, not even null, gets an Access-Control-Allow-Origin', async () => {
    for (const origin of [CONSOLE, 'null', 'https://evil.example']) {
      const pre = await closed
        .http()
        .options('/executions')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(pre.headers['access-control-allow-origin'], origin).toBeUndefined();
      const get = await closed.http().get('/health').set('Origin', origin);
      expect(get.headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it('with CORS_ORIGINS, exactly those origins are allowed; null, look-alikes and others are not', async () => {
    const pre = await open
      .http()
      .options('/executions')
      .set('Origin', CONSOLE)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(pre.headers.vary).toContain('Origin');
    for (const origin of [
      'null',
      'https://evil.example',
      `${CONSOLE}.evil.example`,
      'http://console.example.com',
      'https://console.example.com:8443',
    ]) {
      const res = await open.http().get('/health').set('Origin', origin);
      expect(res.headers['access-control-allow-origin'], origin).toBeUndefined();
    }
    const dev = await open.http().get('/health').set('Origin', 'http://localhost:5173');
    expect(dev.headers['access-control-allow-origin']).toBe('http://localhost:5173');
  });

  it('Swagger UI still loads under the CSP', async () => {
    const res = await closed.http().get('/api/docs/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
    // No inline script: the UI's init code is a file of this origin, which the CSP allows.
    expect(res.text).not.toMatch(/<script>(?!\s*<\/script>)[^<]+<\/script>/);
  });
});
