import { MASK, SecretMask } from './secret-mask.js';

describe('SecretMask', () => {
  const secret = 'p@ss w/rd+&?=ü"x';

  it('masks the value and the forms commands and HTTP bodies turn it into', () => {
    const m = new SecretMask([secret]);
    const b64 = Buffer.from(secret).toString('base64');
    for (const form of [
      secret,
      b64,
      b64.replace(/=+$/, ''),
      Buffer.from(secret).toString('base64url'),
      encodeURIComponent(secret),
      encodeURIComponent(secret).replace(/%20/g, '+'),
      JSON.stringify(secret).slice(1, -1),
    ]) {
      expect(m.mask(`before ${form} after`), form).toBe(`before ${MASK} after`);
    }
  });

  it('masks each line of a multi-line value, and the value whole', () => {
    const key =
      '-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAAS\nCAT8wggE7AgEAAkEAq7BFUpkGp3+XQ\n-----END KEY-----';
    const m = new SecretMask([key]);
    expect(m.mask(`config: ${key}`)).toBe(`config: ${MASK}`);
    for (const line of key.split('\n')) expect(m.mask(line)).toBe(MASK);
    // Short lines of a secret alone would mask ordinary output: not masked on their own.
    expect(new SecretMask(['a\n}\nbcd5']).mask('} and --')).toBe('} and --');
  });

  it('masks the longest form first, several secrets, and leaves other text alone', () => {
    const m = new SecretMask(['abc', 'abcdef', '']);
    expect(m.mask('abcdef abc ab')).toBe(`${MASK} ${MASK} ab`);
    expect(m.mask(null)).toBeNull();
    expect(new SecretMask([]).mask('nothing secret')).toBe('nothing secret');
  });
});
