import { randomBytes } from 'node:crypto';
import { deriveKey } from '../config/keys.js';
import {
  CredentialDecryptError,
  decryptSecret,
  encryptSecret,
  type CredentialSecret,
} from './credential-crypto.js';

const KEY = deriveKey('s'.repeat(40), 'credentials');
const ID = '6f0f7a9e-2a53-4b7e-9f55-0d7c3a1b2c3d';
const OTHER_ID = '0b6f4a4e-9d0e-4a51-8f0e-5a1f2b3c4d5e';
const KEY_SECRET: CredentialSecret = {
  type: 'ssh-key',
  privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n',
  passphrase: 'correct horse',
};

describe('credential encryption (AES-256-GCM)', () => {
  it('round-trips a key with its passphrase, and a password', () => {
    expect(decryptSecret(KEY, ID, encryptSecret(KEY, ID, KEY_SECRET))).toEqual(KEY_SECRET);
    const pw: CredentialSecret = { type: 'password', password: 'hunter2-ünïcode' };
    expect(decryptSecret(KEY, ID, encryptSecret(KEY, ID, pw))).toEqual(pw);
  });

  it('uses a fresh 12-byte IV every time, so equal secrets never look equal', () => {
    const a = encryptSecret(KEY, ID, KEY_SECRET);
    const b = encryptSecret(KEY, ID, KEY_SECRET);
    expect(a.iv).toHaveLength(12);
    expect(a.authTag).toHaveLength(16);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('the ciphertext holds neither the key text nor the passphrase', () => {
    const { ciphertext } = encryptSecret(KEY, ID, KEY_SECRET);
    expect(ciphertext.toString('latin1')).not.toContain('OPENSSH');
    expect(ciphertext.toString('latin1')).not.toContain('correct horse');
  });

  it.each([
    ['a flipped ciphertext bit', (e: ReturnType<typeof encryptSecret>) => (e.ciphertext[0] ^= 1)],
    ['a flipped tag bit', (e: ReturnType<typeof encryptSecret>) => (e.authTag[3] ^= 1)],
    ['another IV', (e: ReturnType<typeof encryptSecret>) => (e.iv[0] ^= 1)],
    [
      'a truncated tag',
      (e: ReturnType<typeof encryptSecret>) => (e.authTag = e.authTag.subarray(0, 8)),
    ],
  ])('refuses %s with a clear error', (_, tamper) => {
    const e = encryptSecret(KEY, ID, KEY_SECRET);
    tamper(e);
    expect(() => decryptSecret(KEY, ID, e)).toThrow(CredentialDecryptError);
    expect(() => decryptSecret(KEY, ID, e)).toThrow(/could not be decrypted: .*altered or moved/);
  });

  it("refuses a ciphertext moved onto another credential's row (the id is bound)", () => {
    const e = encryptSecret(KEY, ID, KEY_SECRET);
    expect(() => decryptSecret(KEY, OTHER_ID, e)).toThrow(CredentialDecryptError);
  });

  it('refuses under another key (SECRET_KEY changed)', () => {
    const e = encryptSecret(KEY, ID, KEY_SECRET);
    expect(() => decryptSecret(deriveKey('t'.repeat(40), 'credentials'), ID, e)).toThrow(
      /SECRET_KEY changed/,
    );
    // The credentials key is not the session key, even from the same secret.
    expect(deriveKey('s'.repeat(40), 'jwt').equals(KEY)).toBe(false);
  });

  it('refuses a key of the wrong size outright', () => {
    expect(() => encryptSecret(randomBytes(16), ID, KEY_SECRET)).toThrow(/32 bytes/);
  });
});
