import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * An integration's secret at rest, for the sources that sign with it (HMAC needs the secret
 * itself, not a digest): AES-256-GCM under `deriveKey(SECRET_KEY, 'integrations')`, a fresh
 * 12-byte IV each time, the integration's id as associated data (a ciphertext copied onto another
 * row does not open), as the credential store does (src/nodes/credential-crypto.ts). Pure.
 */
export interface SealedSecret {
  ciphertext: Buffer;
  iv: Buffer;
  authTag: Buffer;
}

const aad = (integrationId: string) => Buffer.from(`firebreak/integration/${integrationId}`);

export function sealSecret(key: Buffer, integrationId: string, secret: string): SealedSecret {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(aad(integrationId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag() };
}

/** The secret, or null when it does not open (altered, moved, or SECRET_KEY changed). */
export function openSecret(key: Buffer, integrationId: string, s: SealedSecret): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, s.iv, { authTagLength: 16 });
    decipher.setAAD(aad(integrationId));
    decipher.setAuthTag(s.authTag);
    return Buffer.concat([decipher.update(s.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
