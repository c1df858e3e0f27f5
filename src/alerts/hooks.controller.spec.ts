import { presentedSecret } from './hooks.controller.js';

describe('the secret a hook request presents', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

  it('is a bearer token, or the password of basic auth (whatever the username)', () => {
    expect(presentedSecret('Bearer fbi_abc')).toBe('fbi_abc');
    expect(presentedSecret('bearer   fbi_abc')).toBe('fbi_abc');
    expect(presentedSecret(basic('alertmanager:fbi_abc'))).toBe('fbi_abc');
    expect(presentedSecret(basic(':fbi_a:b'))).toBe('fbi_a:b');
  });

  it('is nothing for a missing, empty or unknown scheme', () => {
    expect(presentedSecret(undefined)).toBeNull();
    expect(presentedSecret('')).toBeNull();
    expect(presentedSecret('Bearer')).toBeNull();
    expect(presentedSecret('Token fbi_abc')).toBeNull();
    expect(presentedSecret(basic('no-colon'))).toBeNull();
  });
});
