import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { Request, Response } from 'express';
import type { AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { DomainException } from '../common/errors.js';

/**
 * The console's session: the same session JWT as `POST /auth/login` returns, kept in an
 * HttpOnly, SameSite=Strict cookie (Secure when PUBLIC_URL is https) so page scripts never hold
 * it. A cookie-authenticated unsafe request must echo the session's CSRF token in
 * `X-CSRF-Token` (the token is an HMAC of the session id, readable by the console from the
 * non-HttpOnly csrf cookie), and any cookie-authenticated request from another origin is refused.
 * Bearer (session or API token) requests are unaffected: browsers never attach those by
 * themselves. docs/console.md explains the choice.
 */
export const SESSION_COOKIE = 'fb_session';
export const CSRF_COOKIE = 'fb_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function csrfTokenFor(config: AppConfig, sessionId: string): string {
  return createHmac('sha256', deriveKey(config.secretKey, 'csrf'))
    .update(sessionId)
    .digest('base64url');
}

function secure(config: AppConfig): boolean {
  return config.publicUrl.startsWith('https:');
}

export function setSessionCookies(
  res: Response,
  config: AppConfig,
  jwt: string,
  csrfToken: string,
): void {
  const common = {
    sameSite: 'strict' as const,
    secure: secure(config),
    path: '/',
    maxAge: config.jwtTtlSeconds * 1000,
  };
  res.cookie(SESSION_COOKIE, jwt, { ...common, httpOnly: true });
  res.cookie(CSRF_COOKIE, csrfToken, { ...common, httpOnly: false });
}

export function clearSessionCookies(res: Response, config: AppConfig): void {
  const common = { sameSite: 'strict' as const, secure: secure(config), path: '/' };
  res.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  res.clearCookie(CSRF_COOKIE, common);
}

/** The session JWT from the cookie, when the request carries one. */
export function sessionCookieOf(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const value = parseCookies(header)[SESSION_COOKIE];
  return value ? value : undefined;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** This service's own origin(s): PUBLIC_URL's, and the Host the request was sent to. */
function sameOrigin(req: Request, config: AppConfig, origin: string): boolean {
  if (origin === new URL(config.publicUrl).origin) return true;
  const host = req.headers.host;
  return host !== undefined && origin === `${req.protocol}://${host}`;
}

/**
 * Before a cookie-authenticated request reaches a route: refuse another site's request (its
 * Origin, or the browser's Sec-Fetch-Site) whatever the method, and an unsafe method whose
 * X-CSRF-Token does not match the session's token (compared in constant time).
 */
export function checkCookieRequest(req: Request, config: AppConfig, sessionId: string): void {
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if (
    (typeof origin === 'string' && (origin === 'null' || !sameOrigin(req, config, origin))) ||
    site === 'cross-site' ||
    site === 'same-site'
  ) {
    throw new DomainException(
      'CSRF_FAILED',
      'a cookie-authenticated request from another origin is refused; send Authorization: Bearer <token> instead',
      [{ path: 'Origin', message: 'not this service' }],
    );
  }
  if (SAFE_METHODS.has(req.method)) return;
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || !equal(sent, csrfTokenFor(config, sessionId))) {
    throw new DomainException(
      'CSRF_FAILED',
      'X-CSRF-Token: a cookie-authenticated request that changes something must carry the session’s CSRF token (the fb_csrf cookie)',
      [{ path: 'X-CSRF-Token', message: typeof sent === 'string' ? 'does not match' : 'missing' }],
    );
  }
}
