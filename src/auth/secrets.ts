import { createHash, randomBytes } from 'node:crypto';
import argon2 from 'argon2';

export const API_TOKEN_PREFIX = 'fbk_';

/** argon2id with the library's defaults (OWASP-level memory and time cost). */
export const hashPassword = (password: string) => argon2.hash(password, { type: argon2.argon2id });

export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (!hash) {
    // Spend comparable time when the user does not exist, so timing does not reveal usernames.
    await argon2.hash(password, { type: argon2.argon2id });
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A readable random password for the first admin: 24 characters, about 143 bits. */
export const generatePassword = () => randomBytes(18).toString('base64url');

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateApiToken(): { token: string; hash: string; prefix: string } {
  const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashApiToken(token), prefix: token.slice(0, 10) };
}
