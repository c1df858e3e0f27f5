import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The Node LTS line this project supports and is tested on. */
export const SUPPORTED_NODE_MAJOR = 24;

export interface RuntimeInfo {
  node: string;
  /** ssh2's native crypto binding (AES-GCM, ChaCha20-Poly1305) loaded; else its slower JS path. */
  sshNativeCrypto: boolean;
}

/** What the process runs on, for the start-up line and the runtime metric. */
export function runtimeInfo(): RuntimeInfo {
  let sshNativeCrypto = false;
  try {
    const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean };
    sshNativeCrypto = Boolean(crypto.bindingAvailable);
  } catch {
    // ssh2 without its internals at this path: report the binding as absent.
  }
  return { node: process.version, sshNativeCrypto };
}
