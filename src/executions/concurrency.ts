import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { RunbookDefinition } from '../runbooks/runbook.schema.js';
import { ExecutionEvents } from './execution-events.js';
import { EXECUTION_QUEUE, type ExecutionQueue } from './execution-queue.js';
import { FINAL_STATUSES } from './execution-state.js';
import type { ConcurrencyPolicy, ConcurrencyScope } from './execution.entity.js';

/**
 * A runbook's `concurrency` policy, decided in the database so that any number of api and worker
 * processes agree:
 * - every start and every claim of a queue/reject execution takes a transaction-level advisory
 *   lock on the runbook's name, so they take turns per runbook;
 * - under it, the execution's blockers are the other executions of the runbook (sharing a target
 *   node, for scope node) that are not final and not queued (running, or paused in a run), plus
 *   older queued ones with a policy (first come, first served);
 * - reject: a start with blockers is refused (409 naming them) and nothing is written; queue:
 *   a claim with blockers leaves the row queued with `waiting_for` and a system log line, and the
 *   worker returns at once (no slot is held while waiting);
 * - the waiters of a runbook are dispatched again when one of its executions ends
 *   (`ConcurrencyDispatcher`, on the status notice), and by a periodic sweep as a backstop.
 */

export interface Concurrency {
  policy: ConcurrencyPolicy;
  scope: ConcurrencyScope;
}

export interface Blocker {
  id: string;
  status: string;
  /** For scope node: the nodes it shares with the execution. */
  nodes: string[];
}

/** The runbook's `concurrency` as stored on an execution; null is allow (no checks at all). */
export function concurrencyOf(def: Pick<RunbookDefinition, 'concurrency'>): Concurrency | null {
  const c = def.concurrency;
  if (!c || c.policy === 'allow') return null;
  return { policy: c.policy, scope: c.scope ?? 'runbook' };
}

/** Advisory lock class of the per-runbook concurrency lock (the key is the runbook's name). */
const CONCURRENCY_LOCK = 0x46424343; // 'FBCC'

/** Takes turns per runbook until the transaction ends. */
export async function lockRunbook(m: EntityManager, runbookName: string): Promise<void> {
  await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CONCURRENCY_LOCK, runbookName]);
}

/**
 * The blockers of `x` (alias of the execution being started or claimed) among `o`: same runbook,
 * not itself, not final; queued ones only when they have a policy and are older; for scope node
 * only those sharing a node.
 */
const blockerWhere = (finalStatuses: string) => `o.runbook_name = x.runbook_name AND o.id <> x.id
  AND NOT (o.status = ANY(${finalStatuses}))
  AND (o.status <> 'queued'
       OR (o.concurrency_policy IS NOT NULL AND (o.created_at, o.id) < (x.created_at, x.id)))
  AND (x.concurrency_scope IS DISTINCT FROM 'node' OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(o.targets) a, jsonb_array_elements(x.targets) b
         WHERE a->>'name' = b->>'name'))`;

/** The executions `id` (queued, with a policy) has to wait for; empty: it may run. */
export async function findBlockers(m: EntityManager, id: string): Promise<Blocker[]> {
  return m.query<Blocker[]>(
    `SELECT o.id, o.status,
            CASE WHEN x.concurrency_scope = 'node' THEN ARRAY(
              SELECT DISTINCT a->>'name' FROM jsonb_array_elements(o.targets) a
               WHERE a->>'name' IN (SELECT b->>'name' FROM jsonb_array_elements(x.targets) b)
               ORDER BY 1)
            ELSE '{}'::text[] END AS nodes
       FROM executions x JOIN executions o ON ${blockerWhere('$2')}
      WHERE x.id = $1 AND x.status = 'queued' AND x.concurrency_policy IS NOT NULL
      ORDER BY o.created_at, o.id`,
    [id, FINAL_STATUSES],
  );
}

/** "abc… (running on web-1), def… (queued)". */
export function describeBlockers(blockers: Blocker[]): string {
  return blockers
    .map((b) => `${b.id} (${b.status}${b.nodes.length ? ` on ${b.nodes.join(', ')}` : ''})`)
    .join(', ');
}

/** Thrown by `ExecutionRepository.create` when a reject start has blockers; nothing was written. */
export class ConcurrencyConflict extends Error {
  constructor(readonly blockers: Blocker[]) {
    super(`conflicts with ${describeBlockers(blockers)}`);
    this.name = 'ConcurrencyConflict';
  }
}

/** The 409 for a refused start: which executions it conflicts with and, per node, where. */
export function rejectedStart(runbook: string, c: Concurrency, blockers: Blocker[]) {
  const shared = [...new Set(blockers.flatMap((b) => b.nodes))];
  return new DomainException(
    'CONFLICT',
    `${runbook} is already running (concurrency: reject${c.scope === 'node' ? ` per node; shared: ${shared.join(', ')}` : ''}): ${describeBlockers(blockers)}`,
    {
      runbook,
      concurrency: c,
      conflicts: blockers.map((b) => ({
        execution: b.id,
        status: b.status,
        ...(c.scope === 'node' ? { nodes: b.nodes } : {}),
      })),
    },
  );
}

/**
 * Dispatches waiting executions again: when an execution ends, the queued executions of its
 * runbook that have a policy (each once per ending, whichever processes see the notice: the queue
 * key names the pair), and every `sweepMs` those with no blocker left, in case a notice was missed.
 * Runs in worker processes only; the claim decides, so an extra dispatch is a no-op.
 */
@Injectable()
export class ConcurrencyDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ConcurrencyDispatcher.name);
  private unsubscribe: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private ended = new Set<string>();
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(EXECUTION_QUEUE) private readonly queue: ExecutionQueue,
    private readonly events: ExecutionEvents,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'api') return;
    this.unsubscribe = await this.events.subscribe('*', (n) => {
      if (n.kind !== 'status' || this.closed) return;
      this.ended.add(n.id);
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
    this.sweeper = setInterval(
      () => void this.sweep().catch((err: Error) => this.logger.warn(`sweep: ${err.message}`)),
      (this.config.heartbeatTimeoutSeconds * 1000) / 2,
    );
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.unsubscribe?.();
    await this.flushing;
  }

  /** Waiters of the runbooks whose executions just ended, oldest first. */
  private async flush(): Promise<void> {
    while (this.ended.size && !this.closed) {
      const ids = [...this.ended];
      this.ended.clear();
      try {
        const rows = await this.dataSource.query<Array<{ waiter: string; ended: string }>>(
          `SELECT w.id AS waiter, b.id AS ended
             FROM executions b
             JOIN executions w ON w.runbook_name = b.runbook_name AND w.id <> b.id
                              AND w.status = 'queued' AND w.concurrency_policy IS NOT NULL
            WHERE b.id = ANY($1) AND b.status = ANY($2)
            ORDER BY w.created_at, w.id`,
          [ids, FINAL_STATUSES],
        );
        for (const r of rows) await this.queue.enqueue(r.waiter, `${r.waiter}:after:${r.ended}`);
      } catch (err) {
        // The sweep will find them.
        this.logger.warn(`dispatching waiting executions: ${(err as Error).message}`);
      }
    }
  }

  /** Queued executions with a policy and no blocker left; returns how many were dispatched. */
  async sweep(): Promise<number> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT x.id FROM executions x
        WHERE x.status = 'queued' AND x.concurrency_policy IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM executions o WHERE ${blockerWhere('$1')})
        ORDER BY x.created_at, x.id`,
      [FINAL_STATUSES],
    );
    for (const r of rows) await this.queue.enqueue(r.id, `${r.id}:sweep`);
    return rows.length;
  }
}
