import type { AuditContext } from '../../audit/audit.service.js';
import type { SshTarget } from '../../nodes/node-connection.js';
import type { ExecutionTarget } from '../execution.entity.js';
import { Semaphore } from '../semaphore.js';
import { SshSession } from './ssh.client.js';
import { SshError } from './ssh-errors.js';

/** What the pool needs from the node inventory: where to connect, and the host-key ledger. */
export interface NodeConnections {
  /** Where to connect to each node (one read for all), or why not (an Error per node). */
  connectionTargets(nodeIds: string[]): Promise<Map<string, SshTarget | Error>>;
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
 * inventory) and closes everything at the end. The connection targets of the nodes that ask
 * for a connection together (a parallel step's nodes all do, in one turn of the event loop) are
 * read in one query, at that moment (so a later batch of a rolling run reads the inventory as
 * it is then).
 */
export class SshSessionPool {
  private readonly sessions = new Map<string, Promise<SshSession>>();
  /** Node ids waiting for the next read of connection targets, with their waiters. */
  private wanted = new Map<
    string,
    Array<{ resolve: (t: SshTarget) => void; reject: (e: Error) => void }>
  >();

  constructor(
    private readonly nodes: NodeConnections,
    private readonly actor: AuditContext,
    private readonly note: (node: string, line: string) => void,
    /**
     * Bounds the handshakes in flight (a slot from TCP connect to authenticated): with 1,000
     * at once on a busy worker, each took its share of the CPU and many ran past their ready
     * timeout. Waiting for a slot does not count against that timeout.
     */
    private readonly connectSlots = new Semaphore(Infinity),
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

  /** The node's connection target, read together with those asked for in the same turn. */
  private connectionTarget(nodeId: string): Promise<SshTarget> {
    return new Promise((resolve, reject) => {
      const waiters = this.wanted.get(nodeId);
      if (waiters) {
        waiters.push({ resolve, reject });
        return;
      }
      if (this.wanted.size === 0) setImmediate(() => void this.readTargets());
      this.wanted.set(nodeId, [{ resolve, reject }]);
    });
  }

  private async readTargets(): Promise<void> {
    const wanted = this.wanted;
    this.wanted = new Map();
    let targets: Map<string, SshTarget | Error>;
    try {
      targets = await this.nodes.connectionTargets([...wanted.keys()]);
    } catch (error) {
      for (const waiters of wanted.values()) for (const w of waiters) w.reject(error as Error);
      return;
    }
    for (const [id, waiters] of wanted) {
      const target = targets.get(id) ?? new Error(`node ${id}: no connection target`);
      for (const w of waiters) {
        if (target instanceof Error) w.reject(target);
        else w.resolve(target);
      }
    }
  }

  private async connect(target: ExecutionTarget): Promise<SshSession> {
    if (!target.id)
      throw new SshError('unreachable', `${target.name} is not in the node inventory`, target.name);
    const conn = await this.connectionTarget(target.id);
    try {
      const session = await this.connectSlots.use(() => SshSession.connect(conn));
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
