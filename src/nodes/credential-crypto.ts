import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Credential secrets at rest: AES-256-GCM under the key derived for credentials
 * (`deriveKey(secretKey, 'credentials')`), a fresh 12-byte IV per encryption, and the
 * credential's id as associated data, so a ciphertext copied onto another row does not decrypt.
 * Pure: no database, no configuration.
 */

/** What is encrypted: the whole secret of one credential, as one JSON document. */
export type CredentialSecret =
  | { type: 'ssh-key'; privateKey: string; passphrase?: string }
  | { type: 'password'; password: string };

export interface EncryptedSecret {
  ciphertext: Buffer;
  iv: Buffer;
  authTag: Buffer;
}

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Raised when a ciphertext does not decrypt: altered, moved to another row, or another key. */
export class CredentialDecryptError extends Error {
  constructor(readonly credentialId: string) {
    super(
      `credential ${credentialId} could not be decrypted: its ciphertext was altered or moved, or SECRET_KEY changed since it was stored`,
    );
    this.name = 'CredentialDecryptError';
  }
}

function associatedData(credentialId: string): Buffer {
  return Buffer.from(`firebreak/credential/${credentialId}`, 'utf8');
}

function checkKey(key: Buffer) {
  if (key.length !== 32) throw new Error(`credential key must be 32 bytes, got ${key.length}`);
}

export function encryptSecret(
  key: Buffer,
  credentialId: string,
  secret: CredentialSecret,
): EncryptedSecret {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(credentialId));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secret), 'utf8'), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag() };
}

/** Decrypts and checks the shape; any mismatch throws CredentialDecryptError, never garbage. */
export function decryptSecret(
  key: Buffer,
  credentialId: string,
  stored: EncryptedSecret,
): CredentialSecret {
  checkKey(key);
  let plain: string;
  try {
    if (stored.iv.length !== IV_BYTES || stored.authTag.length !== TAG_BYTES) throw new Error();
    const decipher = createDecipheriv(ALGORITHM, key, stored.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(credentialId));
    decipher.setAuthTag(stored.authTag);
    plain = Buffer.concat([decipher.update(stored.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialDecryptError(credentialId);
  }
  const secret = JSON.parse(plain) as CredentialSecret;
  const ok =
    (secret.type === 'ssh-key' && typeof secret.privateKey === 'string') ||
    (secret.type === 'password' && typeof secret.password === 'string');
  if (!ok) throw new CredentialDecryptError(credentialId);
  return secret;
}
