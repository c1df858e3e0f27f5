import fs from 'node:fs';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from './support/app.js';
import { ensureConsoleBuilt } from './support/console.js';
import { waitFinished } from './support/fleet.js';

// The web console's session (an HttpOnly, SameSite=Strict cookie with the session JWT, CSRF
// token for unsafe methods, same-origin only) and how the console is served next to the API
// (browser navigations get index.html; API clients keep getting JSON). Over plain HTTP; the
// pages themselves are tested in Chromium (console.spec.ts).

const RUNBOOK = `name: say-hello
description: Prints a greeting on the Firebreak host
kind: diagnostic
targets:
  nodes:
    names: [localhost]
steps:
  - name: hello
    run: echo hello from the console spec
`;

/** Everything the service logs (pino writes to fd 1 directly, not through process.stdout). */
const logged: string[] = [];
const realWrite = fs.write;
const realWriteSync = fs.writeSync;

let t: TestApp;

interface Login {
  cookie: string;
  jwt: string;
  csrf: string;
  setCookie: string[];
}

async function cookieLogin(username = 'admin', password = ADMIN_PASSWORD): Promise<Login> {
  const res = await t.http().post('/auth/login').send({ username, password, cookie: true });
  expect(res.status).toBe(200);
  const setCookie = res.headers['set-cookie'] as unknown as string[];
  const value = (name: string) =>
    setCookie
      .find((c) => c.startsWith(`${name}=`))!
      .split(';')[0]
      .slice(name.length + 1);
  const jwt = value('fb_session');
  const csrf = decodeURIComponent(value('fb_csrf'));
  expect(res.body).toEqual({ tokenType: 'Cookie', expiresIn: expect.any(Number), csrfToken: csrf });
  return { cookie: `fb_session=${jwt}; fb_csrf=${value('fb_csrf')}`, jwt, csrf, setCookie };
}

beforeAll(async () => {
  // The service's log lines to fd 1 are kept here (and not printed).
  const size = (data: unknown) =>
    typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length;
  (fs as { writeSync: unknown }).writeSync = (fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 1) return (realWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
    logged.push(String(data));
    return size(data);
  };
  (fs as { write: unknown }).write = (fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 1) return (realWrite as (...a: unknown[]) => void)(fd, data, ...rest);
    logged.push(String(data));
    const cb = rest.findLast((x) => typeof x === 'function') as (e: null, n: number) => void;
    process.nextTick(() => cb(null, size(data)));
  };
  await ensureConsoleBuilt();
  t = await startTestApp({ LOG_LEVEL: 'info', LOCAL_NODE: 'true' });
});

afterAll(async () => {
  await t?.close();
  (fs as { write: unknown }).write = realWrite;
  (fs as { writeSync: unknown }).writeSync = realWriteSync;
});

describe('cookie session', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and a readable CSRF cookie, no token in the body', async () => {
    const { setCookie } = await cookieLogin();
    const session = setCookie.find((c) => c.startsWith('fb_session='))!;
    const csrf = setCookie.find((c) => c.startsWith('fb_csrf='))!;
    expect(session).toMatch(/; HttpOnly/i);
    expect(session).toMatch(/; SameSite=Strict/i);
    expect(session).toMatch(/; Path=\//);
    expect(session).not.toMatch(/; Secure/i); // PUBLIC_URL is http here
    expect(csrf).not.toMatch(/HttpOnly/i);
    expect(csrf).toMatch(/; SameSite=Strict/i);
  });

  it('authenticates reads by cookie; an unsafe request needs the CSRF token', async () => {
    const s = await cookieLogin();
    const me = await t.http().get('/auth/me').set('Cookie', s.cookie);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'admin', via: 'session' });

    const without = await t
      .http()
      .post('/auth/tokens')
      .set('Cookie', s.cookie)
      .send({ name: 'no-csrf' });
    expect(without.status).toBe(403);
    expect(without.body).toMatchObject({
      code: 'CSRF_FAILED',
      details: [{ path: 'X-CSRF-Token', message: 'missing' }],
    });
    const wrong = await t
      .http()
      .post('/auth/tokens')
      .set('Cookie', s.cookie)
      .set('X-CSRF-Token', `${s.csrf.slice(0, -2)}xx`)
      .send({ name: 'wrong-csrf' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.details).toEqual([{ path: 'X-CSRF-Token', message: 'does not match' }]);
    // Another session's token is not this session's.
    const other = await cookieLogin();
    const crossed = await t
      .http()
      .post('/auth/tokens')
      .set('Cookie', s.cookie)
      .set('X-CSRF-Token', other.csrf)
      .send({ name: 'other-csrf' });
    expect(crossed.status).toBe(403);

    const ok = await t
      .http()
      .post('/auth/tokens')
      .set('Cookie', s.cookie)
      .set('X-CSRF-Token', s.csrf)
      .send({ name: 'with-csrf' });
    expect(ok.status).toBe(201);
    // Nothing was written by the refused ones.
    const tokens = await t.http().get('/auth/tokens').set('Cookie', s.cookie);
    expect((tokens.body as Array<{ name: string }>).map((x) => x.name)).toEqual(['with-csrf']);
  });

  it('refuses a cookie-authenticated request from another site, whatever the method', async () => {
    const s = await cookieLogin();
    for (const [header, value] of [
      ['Origin', 'http://evil.example'],
      ['Origin', 'null'],
      ['Sec-Fetch-Site', 'cross-site'],
    ] as const) {
      const read = await t.http().get('/auth/me').set('Cookie', s.cookie).set(header, value);
      expect(read.status, `${header}: ${value}`).toBe(403);
      expect(read.body.code).toBe('CSRF_FAILED');
      const write = await t
        .http()
        .post('/auth/tokens')
        .set('Cookie', s.cookie)
        .set('X-CSRF-Token', s.csrf)
        .set(header, value)
        .send({ name: 'cross-site' });
      expect(write.status).toBe(403);
    }
    // The console's own origin is fine.
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    const same = await t
      .http()
      .get('/auth/me')
      .set('Cookie', s.cookie)
      .set('Origin', url)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(same.status).toBe(200);
  });

  it('leaves bearer sessions and API tokens as they were (no CSRF token needed)', async () => {
    const created = await t
      .http()
      .post('/auth/tokens')
      .set('Authorization', t.adminAuth)
      .set('Origin', 'http://evil.example')
      .send({ name: 'script' });
    expect(created.status).toBe(201);
    const me = await t
      .http()
      .get('/auth/me')
      .set('Authorization', `Bearer ${created.body.token as string}`);
    expect(me.status).toBe(200);
    expect(me.body.via).toBe('token');
    // A bearer header wins over a stale cookie.
    const both = await t
      .http()
      .get('/auth/me')
      .set('Authorization', t.adminAuth)
      .set('Cookie', 'fb_session=garbage');
    expect(both.status).toBe(200);
  });

  it('logout ends the session server-side: the old cookie is refused afterwards', async () => {
    const s = await cookieLogin();
    const noCsrf = await t.http().post('/auth/logout').set('Cookie', s.cookie);
    expect(noCsrf.status).toBe(403);
    const out = await t
      .http()
      .post('/auth/logout')
      .set('Cookie', s.cookie)
      .set('X-CSRF-Token', s.csrf);
    expect(out.status).toBe(204);
    const cleared = out.headers['set-cookie'] as unknown as string[];
    expect(cleared.find((c) => c.startsWith('fb_session='))).toMatch(/Expires=Thu, 01 Jan 1970/);
    const after = await t.http().get('/auth/me').set('Cookie', s.cookie);
    expect(after.status).toBe(401);
    // The stream too.
    const stream = await t
      .http()
      .get('/executions/00000000-0000-4000-8000-000000000000/stream')
      .set('Cookie', s.cookie);
    expect(stream.status).toBe(401);
  });

  it('streams an execution to the cookie (no token in the URL)', async () => {
    const saved = await t
      .http()
      .post('/runbooks')
      .set('Authorization', t.adminAuth)
      .set('Content-Type', 'application/yaml')
      .send(RUNBOOK);
    expect(saved.status).toBe(201);
    const s = await cookieLogin();
    const started = await t
      .http()
      .post('/executions')
      .set('Cookie', s.cookie)
      .set('X-CSRF-Token', s.csrf)
      .send({ runbook: 'say-hello', via: 'console' });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    await waitFinished(t, id);
    const stream = await t
      .http()
      .get(`/executions/${id}/stream`)
      .set('Cookie', s.cookie)
      .set('Accept', 'text/event-stream');
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('hello from the console spec');
    expect(stream.text).toContain('event: end');

    // The same path is the API object for API clients and the console page for a browser.
    for (const accept of ['application/json', '*/*']) {
      const api = await t
        .http()
        .get(`/executions/${id}`)
        .set('Cookie', s.cookie)
        .set('Accept', accept);
      expect(api.status, accept).toBe(200);
      expect(api.headers['content-type'], accept).toMatch(/^application\/json/);
      expect(api.body.id).toBe(id);
    }
    const cli = await t.http().get(`/executions/${id}`).set('Authorization', t.adminAuth);
    expect(cli.body.id).toBe(id);
    const page = await t
      .http()
      .get(`/executions/${id}`)
      .set('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<div id="root">');
    // A fetch from the console (Sec-Fetch-Mode: cors) is an API call even when it accepts HTML.
    const fetched = await t
      .http()
      .get(`/executions/${id}`)
      .set('Cookie', s.cookie)
      .set('Sec-Fetch-Mode', 'cors')
      .set('Accept', 'text/html, */*');
    expect(fetched.headers['content-type']).toMatch(/^application\/json/);
  });

  it('never logs the session cookie or the CSRF token', async () => {
    const s = await cookieLogin();
    await t.http().get('/auth/me').set('Cookie', s.cookie);
    await t.http().post('/auth/tokens').set('Cookie', s.cookie).send({ name: 'refused' });
    const all = logged.join('');
    expect(all).toContain('"url":"/auth/me"'); // the request log is there...
    expect(all).not.toContain(s.jwt); // ...without the cookie
    expect(all).not.toContain(s.csrf);
  });
});

describe('serving the console', () => {
  it('answers navigations with index.html (no-cache), deep links included', async () => {
    for (const path of [
      '/',
      '/runbooks/diagnose-host/run?incident=INC-42',
      '/incidents/INC-42',
      '/settings/slack',
      '/approvals',
    ]) {
      const res = await t.http().get(path).set('Sec-Fetch-Mode', 'navigate').set('Accept', '*/*');
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], path).toBe('no-cache');
      expect(res.text, path).toContain('<div id="root">');
    }
    // What a browser would otherwise be answered with: the API's JSON.
    const api = await t.http().get('/approvals').set('Authorization', t.adminAuth);
    expect(api.headers['content-type']).toMatch(/^application\/json/);
    // Swagger UI and health stay the server's own.
    const docs = await t.http().get('/api/docs').set('Sec-Fetch-Mode', 'navigate');
    expect(docs.text).not.toContain('<div id="root">');
    const health = await t.http().get('/health').set('Sec-Fetch-Mode', 'navigate');
    expect(health.headers['content-type']).toMatch(/^application\/json/);
    for (const path of ['/hooks/x', '/slack/oauth/callback']) {
      const own = await t.http().get(path).set('Sec-Fetch-Mode', 'navigate');
      expect(own.text, path).not.toContain('<div id="root">');
    }
  });

  it('serves hashed assets with a long cache and a CSP without inline scripts', async () => {
    const index = await t.http().get('/').set('Accept', 'text/html');
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(index.text);
    expect(script).not.toBeNull();
    expect(index.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const csp = index.headers['content-security-policy'] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const asset = await t.http().get(script![1]);
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toMatch(/javascript/);
    const missing = await t.http().get('/assets/nope-123.js');
    expect(missing.status).toBe(404);
  });
});
