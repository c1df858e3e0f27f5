import { createHash, createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';

/**
 * Just enough of the SSH key formats to check a private key before it is stored and to show
 * which key it is: `SHA256:…` of the public key blob, exactly as `ssh-keygen -lf` prints it.
 * OpenSSH-format keys (`BEGIN OPENSSH PRIVATE KEY`) carry their public key in clear, even when
 * encrypted; PEM keys (PKCS#1, SEC1, PKCS#8) are read with node:crypto. Pure.
 */

/** `SHA256:` and 43 characters of unpadded base64. */
export const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

export interface PrivateKeyInfo {
  format: 'openssh' | 'pem';
  /** e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`; null when not known. */
  keyType: string | null;
  encrypted: boolean;
  /** Null when it cannot be derived for this key type. */
  fingerprint: string | null;
}

export type InspectResult = { ok: true; info: PrivateKeyInfo } | { ok: false; message: string };

const PEM_RE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----([\s\S]*?)-----END \1PRIVATE KEY-----/;
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/** `SHA256:…` of an SSH wire-format public key blob. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads and checks a private key; a passphrase is needed only to check encrypted PEM keys. */
export function inspectPrivateKey(text: string, passphrase?: string): InspectResult {
  if (/^\s*(ssh-|ecdsa-|sk-)\S+\s+AAAA/.test(text) || text.includes('PUBLIC KEY-----')) {
    return { ok: false, message: 'this is a public key: send the private key' };
  }
  const m = PEM_RE.exec(text);
  if (!m) return { ok: false, message: 'not a private key in OpenSSH or PEM format' };
  if (m[1] === 'OPENSSH ') return inspectOpenSsh(m[2], passphrase);
  return inspectPem(text, passphrase);
}

function inspectOpenSsh(body: string, passphrase: string | undefined): InspectResult {
  try {
    const raw = Buffer.from(body.replace(/\s+/g, ''), 'base64');
    if (!raw.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) throw new Error();
    const r = new SshReader(raw.subarray(OPENSSH_MAGIC.length));
    const cipher = r.string().toString('latin1');
    r.string(); // kdf name
    r.string(); // kdf options
    if (r.uint32() !== 1) throw new Error();
    const publicKey = r.string();
    const keyType = new SshReader(publicKey).string().toString('latin1');
    r.string(); // the (possibly encrypted) private section
    const encrypted = cipher !== 'none';
    if (encrypted && !passphrase) {
      return { ok: false, message: 'the key is encrypted: send its passphrase too' };
    }
    return {
      ok: true,
      info: { format: 'openssh', keyType, encrypted, fingerprint: fingerprintOf(publicKey) },
    };
  } catch {
    return { ok: false, message: 'not a valid OpenSSH private key (damaged or truncated)' };
  }
}

function inspectPem(text: string, passphrase: string | undefined): InspectResult {
  const encrypted = /Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(text);
  let jwk: JsonWebKey;
  try {
    const key = createPrivateKey({ key: text, format: 'pem', passphrase });
    jwk = createPublicKey(key).export({ format: 'jwk' });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (encrypted && !passphrase) {
      return { ok: false, message: 'the key is encrypted: send its passphrase too' };
    }
    if (encrypted || code === 'ERR_OSSL_BAD_DECRYPT') {
      return { ok: false, message: 'the passphrase does not decrypt this key' };
    }
    return { ok: false, message: 'not a valid PEM private key (damaged or unsupported)' };
  }
  const blob = sshPublicBlob(jwk);
  return {
    ok: true,
    info: {
      format: 'pem',
      keyType: blob ? new SshReader(blob).string().toString('latin1') : null,
      encrypted,
      fingerprint: blob ? fingerprintOf(blob) : null,
    },
  };
}

const EC_CURVES: Record<string, string> = {
  'P-256': 'nistp256',
  'P-384': 'nistp384',
  'P-521': 'nistp521',
};

/** The SSH wire-format public key for RSA, ECDSA (NIST curves) and Ed25519; null otherwise. */
function sshPublicBlob(jwk: JsonWebKey): Buffer | null {
  const b = (v: string | undefined) => Buffer.from(v ?? '', 'base64url');
  if (jwk.kty === 'RSA') return sshBlob([str('ssh-rsa'), mpint(b(jwk.e)), mpint(b(jwk.n))]);
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return sshBlob([str('ssh-ed25519'), str(b(jwk.x))]);
  }
  if (jwk.kty === 'EC' && jwk.crv && EC_CURVES[jwk.crv]) {
    const curve = EC_CURVES[jwk.crv];
    const point = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
    return sshBlob([str(`ecdsa-sha2-${curve}`), str(curve), str(point)]);
  }
  return null;
}

function str(v: string | Buffer): Buffer {
  const data = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function mpint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return str(trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

const sshBlob = (parts: Buffer[]) => Buffer.concat(parts);

class SshReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  uint32(): number {
    if (this.offset + 4 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  string(): Buffer {
    const len = this.uint32();
    if (this.offset + len > this.buf.length) throw new Error('truncated');
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
}
