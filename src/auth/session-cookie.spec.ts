import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { loadConfig, type AppConfig } from '../config/config.js';
import { DomainException } from '../common/errors.js';
import { checkCookieRequest, csrfTokenFor, setSessionCookies } from './session-cookie.js';

const config = (publicUrl: string): AppConfig =>
  loadConfig({ SECRET_KEY: randomBytes(32).toString('hex'), PUBLIC_URL: publicUrl }, '/');

/** A real express app answering with what the helpers under test do. */
function app(cfg: AppConfig) {
  const a = express();
  a.get('/login', (_req, res) => {
    setSessionCookies(res, cfg, 'the-jwt', csrfTokenFor(cfg, 'sid-1'));
    res.sendStatus(204);
  });
  a.all('/check', (req, res) => {
    try {
      checkCookieRequest(req, cfg, 'sid-1');
      res.sendStatus(204);
    } catch (err) {
      res.status(403).json({ code: (err as DomainException).code });
    }
  });
  return a;
}

describe('session cookie', () => {
  it('is Secure when PUBLIC_URL is https, and not over plain http', async () => {
    const secure = await request(app(config('https://firebreak.example'))).get('/login');
    const cookies = secure.headers['set-cookie'] as unknown as string[];
    expect(cookies).toHaveLength(2);
    for (const c of cookies) expect(c).toMatch(/; Secure/);
    const plain = await request(app(config('http://localhost:3000'))).get('/login');
    for (const c of plain.headers['set-cookie'] as unknown as string[])
      expect(c).not.toMatch(/Secure/);
  });

  it('CSRF tokens differ per session and per SECRET_KEY', () => {
    const a = config('http://localhost:3000');
    const b = config('http://localhost:3000');
    expect(csrfTokenFor(a, 's1')).toBe(csrfTokenFor(a, 's1'));
    expect(csrfTokenFor(a, 's1')).not.toBe(csrfTokenFor(a, 's2'));
    expect(csrfTokenFor(a, 's1')).not.toBe(csrfTokenFor(b, 's1'));
  });

  it('accepts PUBLIC_URL’s origin behind a proxy and refuses look-alikes', async () => {
    const cfg = config('https://firebreak.example');
    const http = request(app(cfg));
    const token = csrfTokenFor(cfg, 'sid-1');
    expect(
      (
        await http
          .post('/check')
          .set('Origin', 'https://firebreak.example')
          .set('X-CSRF-Token', token)
      ).status,
    ).toBe(204);
    for (const origin of [
      'https://firebreak.example.evil.test',
      'http://firebreak.example',
      'https://evil.test',
    ])
      expect((await http.get('/check').set('Origin', origin)).status, origin).toBe(403);
    expect((await http.get('/check').set('Sec-Fetch-Site', 'same-site')).status).toBe(403);
    expect((await http.get('/check').set('Sec-Fetch-Site', 'none')).status).toBe(204); // typed URL
  });
});
