import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: a request whose timestamp is further than this from now is refused. */
export const SLACK_WINDOW_SECONDS = 5 * 60;

export type SignatureCheck =
  | { ok: true; signature: string }
  | { ok: false; reason: 'missing headers' | 'stale timestamp' | 'bad signature' };

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under the signing secret. */
export function slackSignature(secret: string, timestamp: string, body: Buffer | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`v0:${timestamp}:`);
  mac.update(body);
  return `v0=${mac.digest('hex')}`;
}

/**
 * Verifies a Slack request on its raw body: the timestamp within the 5-minute window (either
 * side), then the signature compared in constant time. Pure: `nowMs` is passed in. The caller
 * still has to refuse a signature it has seen before (a replay inside the window).
 */
export function verifySlackRequest(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: Buffer | string,
  nowMs: number,
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature) return { ok: false, reason: 'missing headers' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'stale timestamp' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SLACK_WINDOW_SECONDS)
    return { ok: false, reason: 'stale timestamp' };
  const expected = Buffer.from(slackSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad signature' };
  return { ok: true, signature };
}
