import type { AuditContext } from '../../audit/audit.service.js';
import type { SshTarget } from '../../nodes/node-connection.js';
import type { ExecutionTarget } from '../execution.entity.js';
import { SshSession } from './ssh.client.js';
import { SshError } from './ssh-errors.js';

/** What the pool needs from the node inventory: where to connect, and the host-key ledger. */
export interface NodeConnections {
  connectionTarget(nodeId: string): Promise<SshTarget>;
  learnHostKey(nodeId: string, fingerprint: string, ctx: AuditContext): Promise<unknown>;
  reportHostKeyMismatch(
    nodeId: string,
    expected: string,
    got: string,
    ctx: AuditContext,
  ): Promise<unknown>;
}

/**
 * One SSH connection per node for the length of one execution, reused by every step: connects
 * on first use, records a host key trusted on first use, reports a changed one (audited by the
 * inventory) and closes everything at the end.
 */
export class SshSessionPool {
  private readonly sessions = new Map<string, Promise<SshSession>>();

  constructor(
    private readonly nodes: NodeConnections,
    private readonly actor: AuditContext,
    private readonly note: (node: string, line: string) => void,
  ) {}

  get(target: ExecutionTarget): Promise<SshSession> {
    let s = this.sessions.get(target.name);
    if (!s) {
      s = this.connect(target);
      this.sessions.set(target.name, s);
    }
    return s;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map(async (s) => (await s).close()));
  }

  private async connect(target: ExecutionTarget): Promise<SshSession> {
    if (!target.id)
      throw new SshError('unreachable', `${target.name} is not in the node inventory`, target.name);
    const conn = await this.nodes.connectionTarget(target.id);
    try {
      const session = await SshSession.connect(conn);
      if (session.learnedHostKey) {
        await this.nodes.learnHostKey(target.id, session.hostKeyFingerprint, this.actor);
        this.note(target.name, `trusted host key ${session.hostKeyFingerprint} on first use`);
      }
      return session;
    } catch (err) {
      if (err instanceof SshError && err.kind === 'host_key_mismatch') {
        const offered = /got (SHA256:[A-Za-z0-9+/]+)/.exec(err.message)?.[1] ?? 'unknown';
        await this.nodes
          .reportHostKeyMismatch(target.id, conn.hostKey.fingerprint ?? '', offered, this.actor)
          .catch(() => undefined);
      }
      throw err;
    }
  }
}
