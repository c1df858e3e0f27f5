/**
 * What the execution engine needs to reach a node over SSH. Built by NodeTargetsService from the
 * inventory and the credential store (secrets decrypted only in the worker, only for the run).
 */
export interface SshTarget {
  /** Node name, for messages and logs. */
  node: string;
  host: string;
  port: number;
  username: string;
  auth:
    | { type: 'key'; privateKey: string; passphrase?: string }
    | { type: 'password'; password: string };
  hostKey: {
    /** Pinned host key fingerprint, `SHA256:…` as `ssh-keygen -lf` prints it; null when unknown. */
    fingerprint: string | null;
    /** With no pinned key: accept the first key seen and report it (trust on first use). */
    trustOnFirstUse: boolean;
  };
}

/** Why a connection failed, in words a responder understands. */
export type SshFailureKind =
  | 'unreachable'
  | 'refused'
  | 'auth_failed'
  | 'host_key_mismatch'
  | 'host_key_unknown'
  | 'timed_out'
  | 'disconnected';
