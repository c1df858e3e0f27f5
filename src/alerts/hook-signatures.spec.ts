import { createHmac, randomBytes } from 'node:crypto';
import { fixture } from './adapters/fixtures.js';
import {
  constantTimeEqual,
  REPLAY_WINDOW_SECONDS,
  signFirebreak,
  verifyFirebreak,
  verifyGrafana,
  verifyPagerDuty,
} from './hook-signatures.js';
import { openSecret, sealSecret } from './integration-secret.js';

const hmac = (secret: string, data: string | Buffer) =>
  createHmac('sha256', secret).update(data).digest('hex');

describe('PagerDuty V3 signatures', () => {
  // The vector of PagerDuty's own client library (go-pagerduty webhookv3_test.go).
  const secret = 'lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK';
  const body = fixture('pagerduty-signed-body.json');
  const valid = 'v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd';
  const mismatch = 'v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5';

  it('passes the published vector, and any match in a v1 list (rotation)', () => {
    expect(verifyPagerDuty(secret, body, valid)).toBe('ok');
    expect(verifyPagerDuty(secret, body, `${mismatch},${valid}`)).toBe('ok');
    expect(verifyPagerDuty(secret, body, `${valid}, ${mismatch}`)).toBe('ok');
  });

  it('fails the published mismatch, another body, another secret, a missing header', () => {
    expect(verifyPagerDuty(secret, body, mismatch)).toBe('mismatch');
    expect(verifyPagerDuty(secret, Buffer.concat([body, Buffer.from(' ')]), valid)).toBe(
      'mismatch',
    );
    expect(verifyPagerDuty(`${secret}x`, body, valid)).toBe('mismatch');
    expect(verifyPagerDuty(secret, body, undefined)).toBe('missing');
    expect(verifyPagerDuty(secret, body, valid.replace('v1=', 'v2='))).toBe('missing');
  });

  it('checks fresh HMACs over the raw bytes', () => {
    const s = randomBytes(24).toString('base64');
    const raw = Buffer.from('{"event":{"id":"é"}}');
    expect(verifyPagerDuty(s, raw, `v1=${hmac(s, raw)}`)).toBe('ok');
  });
});

describe('Grafana webhook HMAC signatures', () => {
  const secret = 'grafana-shared-secret';
  const body = Buffer.from('{"status":"firing"}');
  const now = 1_796_000_000;

  it('signs the body alone when no timestamp header is configured', () => {
    expect(verifyGrafana(secret, body, hmac(secret, body), undefined, now)).toBe('ok');
    expect(verifyGrafana(secret, body, hmac('other', body), undefined, now)).toBe('mismatch');
    expect(verifyGrafana(secret, body, undefined, undefined, now)).toBe('missing');
  });

  it('signs "<timestamp>:<body>" when a timestamp header is configured, within the window', () => {
    const ts = String(now - 10);
    const sig = hmac(secret, `${ts}:${body.toString()}`);
    expect(verifyGrafana(secret, body, sig, ts, now)).toBe('ok');
    expect(verifyGrafana(secret, body, hmac(secret, body), ts, now)).toBe('mismatch');
    expect(verifyGrafana(secret, body, sig, String(now - 11), now)).toBe('mismatch');
    expect(verifyGrafana(secret, body, sig, null, now)).toBe('missing');
    const old = String(now - REPLAY_WINDOW_SECONDS - 1);
    expect(verifyGrafana(secret, body, hmac(secret, `${old}:${body.toString()}`), old, now)).toBe(
      'stale',
    );
  });
});

describe('Firebreak signatures (generic JSON, CloudEvents)', () => {
  const secret = 'fbi_example';
  const body = Buffer.from('[{"status":"firing","labels":{"a":"b"}}]');
  const now = 1_796_000_000;

  it('is sha256=<hex HMAC of "<timestamp>.<body>">, within the window', () => {
    const sig = signFirebreak(secret, body, now);
    expect(sig).toBe(`sha256=${hmac(secret, `${now}.${body.toString()}`)}`);
    expect(verifyFirebreak(secret, body, sig, String(now), now + 60)).toBe('ok');
    expect(verifyFirebreak(secret, body, sig, String(now + 1), now)).toBe('mismatch');
    expect(verifyFirebreak(secret, Buffer.from(`${body.toString()} `), sig, String(now), now)).toBe(
      'mismatch',
    );
    expect(verifyFirebreak(secret, body, sig, String(now), now + REPLAY_WINDOW_SECONDS + 1)).toBe(
      'stale',
    );
    expect(verifyFirebreak(secret, body, sig, undefined, now)).toBe('missing');
    expect(verifyFirebreak(secret, body, sig.slice(7), String(now), now)).toBe('missing');
  });

  it('compares in constant time, whatever the lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('integration secrets at rest', () => {
  const key = randomBytes(32);
  const id = '6f1c2a56-51a3-4d9a-9d0a-4a3b1f7e2c10';

  it('open with the key and the id they were sealed for, only', () => {
    const sealed = sealSecret(key, id, 'fbi_secret');
    expect(sealed.ciphertext.toString('utf8')).not.toContain('fbi_secret');
    expect(openSecret(key, id, sealed)).toBe('fbi_secret');
    expect(openSecret(key, id.replace('6f', '7f'), sealed)).toBeNull();
    expect(openSecret(randomBytes(32), id, sealed)).toBeNull();
    const tampered = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext) };
    tampered.ciphertext[0] ^= 1;
    expect(openSecret(key, id, tampered)).toBeNull();
  });
});
