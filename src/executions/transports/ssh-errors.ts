import type { SshFailureKind, SshTarget } from '../../nodes/node-connection.js';

/** A connection-level failure, with a message a responder can act on. */
export class SshError extends Error {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    readonly node: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

export function where(target: SshTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.node} (${host}:${target.port})`;
}

const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);

/** Maps an ssh2 / socket error to an SshError. */
export function classify(
  error: Error & { code?: unknown; level?: unknown },
  target: SshTarget,
  phase: 'connecting' | 'connected',
  readyTimeoutMs: number,
): SshError {
  const at = where(target);
  const code = typeof error.code === 'string' ? error.code : undefined;
  const make = (kind: SshFailureKind, message: string) =>
    new SshError(kind, `${at}: ${message}`, target.node);
  if (code === 'ECONNREFUSED') {
    return make('refused', 'connection refused — is sshd running and the port right?');
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return make('unreachable', `host unreachable (${code}) — check the address and network path`);
  }
  if (code && DNS_CODES.has(code)) {
    return make(
      'unreachable',
      `host unreachable: cannot resolve ${target.host} (${code}) — check the node's hostname`,
    );
  }
  if (code === 'ETIMEDOUT') {
    return make('timed_out', `timed out connecting (${code}) — is the host up and the port open?`);
  }
  if (error.level === 'client-timeout') {
    if (phase === 'connecting') {
      return make(
        'timed_out',
        `timed out after ${readyTimeoutMs} ms connecting — the host did not complete the SSH ` +
          'handshake (down, firewalled, or overloaded?)',
      );
    }
    return make('timed_out', 'connection timed out: the server stopped answering keepalives');
  }
  if (error.level === 'client-authentication') {
    return make(
      'auth_failed',
      `authentication failed for user ${target.username} — check the node's credential`,
    );
  }
  const detail = error.message ? ` (${error.message})` : '';
  return make(
    'disconnected',
    phase === 'connecting'
      ? `connection closed during the SSH handshake${detail} — is this an SSH server?`
      : `connection lost${detail}`,
  );
}
