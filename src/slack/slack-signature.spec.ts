import { createHmac } from 'node:crypto';
import { slackSignature, verifySlackRequest } from './slack-signature.js';

// The worked example of Slack's "Verifying requests from Slack" page.
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TS = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const DOC_NOW = Number(DOC_TS) * 1000;

describe('Slack request signatures', () => {
  it("signs and verifies Slack's published example", () => {
    expect(slackSignature(DOC_SECRET, DOC_TS, DOC_BODY)).toBe(DOC_SIG);
    expect(slackSignature(DOC_SECRET, DOC_TS, Buffer.from(DOC_BODY))).toBe(DOC_SIG);
    expect(
      verifySlackRequest(DOC_SECRET, { timestamp: DOC_TS, signature: DOC_SIG }, DOC_BODY, DOC_NOW),
    ).toEqual({ ok: true, signature: DOC_SIG });
  });

  it('verifies fresh signatures made independently (node:crypto), on the raw bytes', () => {
    const secret = 'a-fresh-signing-secret';
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const body = Buffer.from('text=run+deploy+msg%3D%22two+words%22&user_id=U1');
    const sig = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body.toString()}`).digest('hex')}`;
    expect(verifySlackRequest(secret, { timestamp: ts, signature: sig }, body, now).ok).toBe(true);
    // One byte of the body changed, or another secret: refused.
    const tampered = Buffer.from(body.toString().replace('U1', 'U2'));
    expect(verifySlackRequest(secret, { timestamp: ts, signature: sig }, tampered, now)).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(verifySlackRequest('other', { timestamp: ts, signature: sig }, body, now).ok).toBe(
      false,
    );
    // Another timestamp with the same signature: refused (the timestamp is signed).
    const ts2 = String(Number(ts) - 1);
    expect(verifySlackRequest(secret, { timestamp: ts2, signature: sig }, body, now).ok).toBe(
      false,
    );
  });

  it('refuses timestamps outside the 5-minute window, either side, and missing headers', () => {
    const sig = DOC_SIG;
    const at = (deltaS: number) => DOC_NOW + deltaS * 1000;
    const check = (nowMs: number) =>
      verifySlackRequest(DOC_SECRET, { timestamp: DOC_TS, signature: sig }, DOC_BODY, nowMs);
    expect(check(at(300)).ok).toBe(true);
    expect(check(at(-300)).ok).toBe(true);
    expect(check(at(301))).toEqual({ ok: false, reason: 'stale timestamp' });
    expect(check(at(-301))).toEqual({ ok: false, reason: 'stale timestamp' });
    expect(
      verifySlackRequest(DOC_SECRET, { timestamp: undefined, signature: sig }, DOC_BODY, DOC_NOW),
    ).toEqual({ ok: false, reason: 'missing headers' });
    expect(
      verifySlackRequest(
        DOC_SECRET,
        { timestamp: DOC_TS, signature: undefined },
        DOC_BODY,
        DOC_NOW,
      ),
    ).toEqual({ ok: false, reason: 'missing headers' });
    expect(
      verifySlackRequest(DOC_SECRET, { timestamp: 'soon', signature: sig }, DOC_BODY, DOC_NOW).ok,
    ).toBe(false);
    // A signature of another length (truncated, or v1=) is refused without throwing.
    expect(
      verifySlackRequest(DOC_SECRET, { timestamp: DOC_TS, signature: 'v0=ab' }, DOC_BODY, DOC_NOW),
    ).toEqual({ ok: false, reason: 'bad signature' });
  });
});
