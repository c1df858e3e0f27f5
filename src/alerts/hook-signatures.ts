import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, pure: each source's scheme exactly as its documentation states it, every
 * comparison in constant time (both sides hashed first, so lengths never differ either).
 */

/** How far a signed timestamp may be from now, either way. */
export const REPLAY_WINDOW_SECONDS = 300;

export type SignatureCheck = 'ok' | 'missing' | 'mismatch' | 'stale';

const hmacHex = (secret: string, ...parts: Array<string | Buffer>) => {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** Constant-time equality of two strings (of any lengths). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/**
 * PagerDuty V3 (developer.pagerduty.com/docs/webhooks/webhook-signatures): `X-PagerDuty-
 * Signature` is a comma-separated list of `v1=<hex HMAC-SHA256 of the raw body>`, one per
 * signing secret (several during a rotation); any match passes.
 */
export function verifyPagerDuty(
  secret: string,
  raw: Buffer,
  header: string | undefined,
): SignatureCheck {
  const candidates = (header ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3));
  if (!candidates.length) return 'missing';
  const expected = hmacHex(secret, raw);
  let match = false;
  for (const c of candidates) match = constantTimeEqual(c.toLowerCase(), expected) || match;
  return match ? 'ok' : 'mismatch';
}

const unixSeconds = (v: string | undefined) => (v && /^\d{1,12}$/.test(v) ? Number(v) : null);

/**
 * Grafana's webhook HMAC (grafana.com/docs/grafana/latest/alerting/configure-notifications/
 * manage-contact-points/integrations/webhook-notifier, "HMAC signature"): the signature header
 * (default `X-Grafana-Alerting-Signature`) is the hex HMAC-SHA256 of the body, or, when a
 * timestamp header is configured, of `<unix timestamp>:<body>`; the timestamp is then checked
 * against the replay window.
 */
export function verifyGrafana(
  secret: string,
  raw: Buffer,
  signature: string | undefined,
  /** undefined: no timestamp header configured; else the header's value (maybe missing). */
  timestamp: string | undefined | null,
  nowSeconds: number,
): SignatureCheck {
  if (!signature) return 'missing';
  let expected: string;
  if (timestamp === undefined) expected = hmacHex(secret, raw);
  else {
    const ts = unixSeconds(timestamp ?? undefined);
    if (ts === null) return 'missing';
    if (Math.abs(nowSeconds - ts) > REPLAY_WINDOW_SECONDS) return 'stale';
    expected = hmacHex(secret, `${timestamp}:`, raw);
  }
  return constantTimeEqual(signature.trim().toLowerCase(), expected) ? 'ok' : 'mismatch';
}

/**
 * Firebreak's own scheme, for generic JSON and CloudEvents senders (docs/alerts.md):
 * `X-Firebreak-Timestamp: <unix seconds>` and `X-Firebreak-Signature: sha256=<hex HMAC-SHA256
 * of "<timestamp>.<raw body>">`, the timestamp within the replay window.
 */
export function verifyFirebreak(
  secret: string,
  raw: Buffer,
  signature: string | undefined,
  timestamp: string | undefined,
  nowSeconds: number,
): SignatureCheck {
  if (!signature?.startsWith('sha256=')) return 'missing';
  const ts = unixSeconds(timestamp);
  if (ts === null) return 'missing';
  if (Math.abs(nowSeconds - ts) > REPLAY_WINDOW_SECONDS) return 'stale';
  const expected = hmacHex(secret, `${timestamp}.`, raw);
  return constantTimeEqual(signature.slice(7).toLowerCase(), expected) ? 'ok' : 'mismatch';
}

/** What a sender computes for `verifyFirebreak` (docs, tests, the CLI). */
export function signFirebreak(secret: string, raw: Buffer | string, timestamp: number): string {
  return `sha256=${hmacHex(secret, `${timestamp}.`, raw)}`;
}
