import { hkdfSync } from 'node:crypto';

/**
 * Derives an independent 256-bit key per purpose from SECRET_KEY (HKDF-SHA256), so the session
 * signing key and the credential encryption key are never the same bytes.
 */
export function deriveKey(
  secretKey: string,
  purpose: 'jwt' | 'credentials' | 'execution-options' | 'integrations' | 'csrf',
): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, 'firebreak', `firebreak/${purpose}/v1`, 32));
}
