import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secure option values of an execution, sealed with AES-256-GCM for the time between start and
 * run. The execution id is the associated data, so a sealed value cannot be moved to another run.
 * Layout: 12-byte IV | 16-byte tag | ciphertext.
 */
export function sealOptions(
  values: Record<string, string>,
  key: Buffer,
  executionId: string,
): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(executionId));
  const body = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function openOptions(
  sealed: Buffer,
  key: Buffer,
  executionId: string,
): Record<string, string> {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(executionId));
  decipher.setAuthTag(sealed.subarray(12, 28));
  const text = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString(
    'utf8',
  );
  return JSON.parse(text) as Record<string, string>;
}
