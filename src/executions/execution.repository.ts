import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  In,
  LessThan,
  Not,
  type EntityManager,
  type QueryDeepPartialEntity,
} from 'typeorm';
import { AuditService, type AuditContext, type AuditEvent } from '../audit/audit.service.js';
import {
  ConcurrencyConflict,
  describeBlockers,
  findBlockers,
  lockRunbook,
  rejectedStart,
  type Blocker,
} from './concurrency.js';
import { ExecutionEvents } from './execution-events.js';
import {
  assertTransition,
  FINAL_STATUSES,
  fromStatuses,
  isFinal,
  type ExecutionStatus,
  type ExecutionTransition,
  type RunOutcome,
} from './execution-state.js';
import { ExecutionEntity } from './execution.entity.js';

const CANCELED_BEFORE_START = 'canceled before it started';

class PauseLost extends Error {}

/**
 * The only code that writes an execution's status. Each method is one move of the state table
 * (`execution-state.ts`), written as a conditional UPDATE on the statuses that move starts from,
 * so two processes racing for the same row cannot both win; each announces itself with
 * `ExecutionEvents.publish` and, where it is an action, is audited in the same transaction.
 */
@Injectable()
export class ExecutionRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: ExecutionEvents,
    private readonly audit: AuditService,
  ) {}

  private get repo() {
    return this.dataSource.getRepository(ExecutionEntity);
  }

  findById(id: string): Promise<ExecutionEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * A new execution, queued, with its audit record in the same transaction. With concurrency
   * reject and a conflict, nothing is written but the refusal (`access.denied`), and it throws
   * the 409 naming the conflicts.
   */
  async create(
    fields: Omit<
      ExecutionEntity,
      | 'status'
      | 'createdAt'
      | 'startedAt'
      | 'finishedAt'
      | 'heartbeatAt'
      | 'worker'
      | 'error'
      | 'cancelRequested'
      | 'checkpoint'
      | 'waitingFor'
      | 'scheduleFire'
      | 'breakGlass'
    > & { scheduleFire?: string | null; breakGlass?: ExecutionEntity['breakGlass'] },
    audit: { ctx: AuditContext; record: AuditEvent },
    /** Held for approval: created `awaiting_approval`, and `hold` records the request. */
    hold?: ((m: EntityManager, e: ExecutionEntity) => Promise<void>) | false,
    /** Claimed at once by this worker (a child run inline by its parent's worker, never queued). */
    claimBy?: string,
  ): Promise<ExecutionEntity> {
    try {
      return await this.insert(fields, audit, hold, claimBy);
    } catch (err) {
      if (!(err instanceof ConcurrencyConflict)) throw err;
      const c = { policy: 'reject' as const, scope: fields.concurrencyScope ?? 'runbook' };
      await this.audit.record(audit.ctx, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'Runbook',
        subjectId: fields.runbookName,
        details: {
          attempted: 'run',
          version: fields.runbookVersion,
          reason: `concurrency reject: conflicts with ${err.blockers.map((b) => b.id).join(', ')}`,
        },
      });
      throw rejectedStart(fields.runbookName, c, err.blockers);
    }
  }

  /**
   * A start that was refused, kept as an execution that never ran (`refused`, final at once, the
   * reason in `error`) with its audit record, in one transaction: a scheduled fire refused by a
   * freeze or the concurrency policy shows on the execution list, not only in the history.
   */
  async createRefused(
    fields: Parameters<ExecutionRepository['create']>[0],
    error: string,
    audit: { ctx: AuditContext; record: AuditEvent },
  ): Promise<ExecutionEntity> {
    return this.dataSource.transaction(async (m) => {
      const row = m.create(ExecutionEntity, {
        ...fields,
        status: 'refused',
        error,
        finishedAt: new Date(),
      });
      await m.insert(ExecutionEntity, row as QueryDeepPartialEntity<ExecutionEntity>);
      await this.audit.record(audit.ctx, audit.record, m);
      await this.events.publish({ id: row.id, kind: 'status' }, m);
      return m.findOneByOrFail(ExecutionEntity, { id: row.id });
    });
  }

  private insert(
    fields: Parameters<ExecutionRepository['create']>[0],
    audit: { ctx: AuditContext; record: AuditEvent },
    hold: Parameters<ExecutionRepository['create']>[2],
    claimBy: string | undefined,
  ): Promise<ExecutionEntity> {
    return this.dataSource.transaction(async (m) => {
      // A concurrency policy is decided under the runbook's lock, against what committed before.
      // A held run is decided when it is claimed after its approval.
      const policy = hold ? null : fields.concurrencyPolicy;
      if (policy) await lockRunbook(m, fields.runbookName);
      // An INSERT (its defaults come back with RETURNING), not save(): no read before it.
      const saved = m.create(ExecutionEntity, {
        ...fields,
        status: hold ? 'awaiting_approval' : 'queued',
      });
      await m.insert(ExecutionEntity, saved as QueryDeepPartialEntity<ExecutionEntity>);
      if (policy) {
        // Its place in line is when it got the lock, not when its transaction began.
        await m.query('UPDATE executions SET created_at = clock_timestamp() WHERE id = $1', [
          saved.id,
        ]);
        const blockers = await findBlockers(m, saved.id);
        // A child run inline by its parent cannot wait in line either: refused like reject.
        if (blockers.length && (policy === 'reject' || claimBy !== undefined))
          throw new ConcurrencyConflict(blockers); // rolls back: nothing written
        if (blockers.length) await this.noteWaiting(m, saved.id, blockers);
      }
      await this.audit.record(audit.ctx, audit.record, m);
      if (hold) await hold(m, saved);
      if (claimBy !== undefined && !hold)
        await this.move(saved.id, 'claim', 'running', { worker: claimBy }, m);
      return policy || claimBy !== undefined
        ? m.findOneByOrFail(ExecutionEntity, { id: saved.id })
        : saved;
    });
  }

  /**
   * The worker lets a run go at an `approval` step (running → awaiting_approval) with the
   * checkpoint it resumes from; `also` records the request in the same transaction. False when
   * the run was interrupted meanwhile.
   */
  async pause(
    id: string,
    checkpoint: Record<string, unknown>,
    also: (m: EntityManager) => Promise<void>,
    /** awaiting_child: at a `runbook` step whose child waits (the child's end releases it). */
    to: 'awaiting_approval' | 'awaiting_child' = 'awaiting_approval',
  ): Promise<boolean> {
    return this.dataSource
      .transaction(async (m) => {
        await m.query('UPDATE executions SET checkpoint = $2 WHERE id = $1', [id, checkpoint]);
        if (!(await this.move(id, 'pause', to, { worker: null }, m))) {
          throw new PauseLost();
        }
        await also(m);
        return true;
      })
      .catch((err) => {
        if (err instanceof PauseLost) return false;
        throw err;
      });
  }

  /** A decision lets a waiting run go to the queue (awaiting_approval → queued), in `m`. */
  release(id: string, m: EntityManager): Promise<boolean> {
    return this.move(id, 'release', 'queued', {}, m);
  }

  /** A run-level approval ends the run before anything ran (rejected, expired or failed), in `m`. */
  decline(
    id: string,
    to: 'rejected' | 'expired' | 'failed',
    error: string,
    m: EntityManager,
  ): Promise<boolean> {
    return this.move(id, 'decline', to, { error }, m);
  }

  /**
   * A worker takes a queued execution (queued → running), with the last sequence number of its
   * log (lines written while it waited come first). Null when another worker has it, it already
   * ended, or a cancel was requested — then it is closed out as canceled here.
   */
  async claim(
    id: string,
    worker: string,
  ): Promise<{ execution: ExecutionEntity; lastLogSeq: number } | null> {
    // The usual case, a runbook without a concurrency policy: one statement (the move, its
    // status notice, the row it leaves and its last log sequence number).
    const fast = await this.claimWithoutPolicy(id, worker);
    if (fast) return fast;
    const [row] = await this.dataSource.query<
      Array<{ runbook_name: string; concurrency_policy: string | null }>
    >('SELECT runbook_name, concurrency_policy FROM executions WHERE id = $1', [id]);
    const claimed = row?.concurrency_policy
      ? await this.dataSource.transaction(async (m) => {
          // Under the runbook's lock: running only when nothing it must wait for runs.
          await lockRunbook(m, row.runbook_name);
          const blockers = await findBlockers(m, id);
          if (blockers.length) {
            await this.noteWaiting(m, id, blockers);
            return 'waiting' as const;
          }
          return this.move(id, 'claim', 'running', { worker, cancelRequested: false }, m);
        })
      : await this.move(id, 'claim', 'running', { worker, cancelRequested: false });
    if (claimed === 'waiting') return null; // stays queued; dispatched again when a blocker ends
    if (!claimed) {
      await this.move(id, 'cancelQueued', 'canceled', {
        error: CANCELED_BEFORE_START,
        cancelRequested: true,
      });
      return null;
    }
    return {
      execution: await this.repo.findOneByOrFail({ id }),
      lastLogSeq: await this.lastLogSeq(id),
    };
  }

  /**
   * The claim move for an execution with no concurrency policy, as `move` would write it plus
   * what the worker reads next, in one round trip; null when it did not move (or has a policy).
   */
  private async claimWithoutPolicy(
    id: string,
    worker: string,
  ): Promise<{ execution: ExecutionEntity; lastLogSeq: number } | null> {
    assertTransition('claim', 'running');
    const params: unknown[] = [id, worker, fromStatuses('claim')];
    const bind = (v: unknown) => `$${params.push(v)}`;
    const rows = await this.dataSource.query<Array<Record<string, unknown>>>(
      `WITH moved AS (
         UPDATE executions
            SET status = 'running', started_at = COALESCE(started_at, now()),
                heartbeat_at = now(), waiting_for = NULL, worker = $2
          WHERE id = $1 AND status = ANY($3) AND NOT cancel_requested
            AND concurrency_policy IS NULL
          RETURNING *)
       SELECT moved.*,
              (SELECT coalesce(max(seq), 0)::int FROM execution_logs
                WHERE execution_id = moved.id) AS last_log_seq,
              ${this.events.noticeSql({ id, kind: 'status' }, bind)} AS notified
         FROM moved`,
      params,
    );
    if (!rows.length) return null;
    return { execution: this.hydrate(rows[0]), lastLogSeq: Number(rows[0].last_log_seq) };
  }

  /** A raw `executions` row as the entity TypeORM would load (its own column conversions). */
  private hydrate(raw: Record<string, unknown>): ExecutionEntity {
    const meta = this.dataSource.getMetadata(ExecutionEntity);
    const entity = meta.create() as ExecutionEntity;
    for (const column of meta.columns)
      column.setEntityValue(
        entity,
        this.dataSource.driver.prepareHydratedValue(raw[column.databaseName], column),
      );
    return entity;
  }

  /**
   * A queued execution waits for `blockers`: kept in `waiting_for`, and said in a system log
   * line whenever that set changes.
   */
  private async noteWaiting(m: EntityManager, id: string, blockers: Blocker[]): Promise<void> {
    const ids = blockers.map((b) => b.id);
    const [, changed] = await m.query<[unknown[], number]>(
      `UPDATE executions SET waiting_for = $2::uuid[]
        WHERE id = $1 AND status = 'queued' AND waiting_for IS DISTINCT FROM $2::uuid[]
        RETURNING id`,
      [id, ids],
    );
    if (!changed) return;
    await m.query(
      `INSERT INTO execution_logs (execution_id, seq, at, node, step, stream, line)
       SELECT $1, coalesce(max(seq), 0) + 1, now(), NULL, NULL, 'system', $2
         FROM execution_logs WHERE execution_id = $1`,
      [
        id,
        `queued: waiting for ${describeBlockers(blockers)} to end (concurrency policy of this runbook)`,
      ],
    );
    await this.events.publish({ id, kind: 'logs' }, m);
  }

  /** The last log sequence number of an execution (lines written while it waited come first). */
  async lastLogSeq(id: string): Promise<number> {
    const [row] = await this.dataSource.query<Array<{ seq: number }>>(
      'SELECT coalesce(max(seq), 0)::int AS seq FROM execution_logs WHERE execution_id = $1',
      [id],
    );
    return row.seq;
  }

  /** The worker is alive; answers whether someone asked it to stop. */
  async heartbeat(id: string): Promise<{ cancelRequested: boolean }> {
    const [rows] = await this.dataSource.query<[Array<{ cancel_requested: boolean }>, number]>(
      'UPDATE executions SET heartbeat_at = now() WHERE id = $1 RETURNING cancel_requested',
      [id],
    );
    return { cancelRequested: Boolean(rows[0]?.cancel_requested) };
  }

  /** How the worker's run ended (running → succeeded, failed, canceled, timed_out); audited. */
  async finish(execution: ExecutionEntity, status: RunOutcome, error: string | null) {
    await this.dataSource.transaction(async (m) => {
      const moved = await this.move(execution.id, 'finish', status, { error }, m);
      if (!moved) return; // interrupted meanwhile by the reaper: that verdict stands
      await this.audit.record(
        { actorId: execution.actorId, actorName: execution.actorName },
        {
          action: 'execution.finish',
          outcome: status === 'succeeded' ? 'success' : 'failure',
          subjectType: 'Execution',
          subjectId: execution.id,
          details: {
            runbook: execution.runbookName,
            version: execution.runbookVersion,
            status,
            error,
          },
        },
        m,
      );
    });
  }

  /**
   * The worker itself gives up on a run it cannot finish (running → interrupted): shutting down
   * past its drain grace. Audited like the reaper's verdict, with the reason.
   */
  async interrupt(execution: ExecutionEntity, error: string): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const moved = await this.move(execution.id, 'interrupt', 'interrupted', { error }, m);
      if (!moved) return false;
      await this.audit.record(
        { actorId: null, actorName: 'system' },
        {
          action: 'execution.interrupt',
          outcome: 'failure',
          subjectType: 'Execution',
          subjectId: execution.id,
          details: { worker: execution.worker, reason: error },
        },
        m,
      );
      return true;
    });
  }

  /**
   * A queued execution whose job the queue would not take: closed out as canceled (never left
   * queued without a job, and never run later: a job that does reach the queue finds it final).
   */
  async cancelUndispatched(execution: ExecutionEntity, error: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const moved = await this.move(execution.id, 'cancelQueued', 'canceled', { error }, m);
      if (!moved) return;
      // It never reached the queue: its business key is given back, so a retry starts the run.
      await m.query('UPDATE executions SET schedule_fire = NULL WHERE id = $1', [execution.id]);
      await this.audit.record(
        { actorId: execution.actorId, actorName: execution.actorName },
        {
          action: 'execution.finish',
          outcome: 'failure',
          subjectType: 'Execution',
          subjectId: execution.id,
          details: {
            runbook: execution.runbookName,
            version: execution.runbookVersion,
            status: 'canceled',
            error,
          },
        },
        m,
      );
    });
  }

  /**
   * Running executions whose worker stopped reporting before `cutoff` become interrupted (never
   * left running); each audited, except the `alive` ones (running on the caller). Returns how many
   * were found stale.
   */
  async interruptStale(cutoff: Date, alive: readonly string[] = []): Promise<number> {
    const stale = (
      await this.repo.find({
        where: { status: In([...fromStatuses('interrupt')]), heartbeatAt: LessThan(cutoff) },
      })
    ).filter((e) => !alive.includes(e.id));
    for (const e of stale) {
      await this.dataSource.transaction(async (m) => {
        const moved = await this.move(
          e.id,
          'interrupt',
          'interrupted',
          { error: `worker ${e.worker ?? '?'} stopped reporting`, heartbeatBefore: cutoff },
          m,
        );
        if (!moved) return;
        await this.audit.record(
          { actorId: null, actorName: 'system' },
          {
            action: 'execution.interrupt',
            outcome: 'failure',
            subjectType: 'Execution',
            subjectId: e.id,
            details: { worker: e.worker },
          },
          m,
        );
      });
    }
    return stale.length;
  }

  /**
   * Asks for a stop: a queued execution ends as canceled at once; a running one is stopped by
   * its worker (the cancel notice, or its next heartbeat). Audited with `audit`.
   */
  async requestCancel(
    id: string,
    audit: { ctx: AuditContext; record: AuditEvent },
  ): Promise<ExecutionEntity> {
    await this.dataSource.transaction(async (m) => {
      await this.cancelIn(m, id);
      await this.audit.record(audit.ctx, audit.record, m);
    });
    return this.repo.findOneByOrFail({ id });
  }

  /**
   * The cancel of one execution in `m`, and of its unfinished children (a child waiting for
   * approval, or running on another worker after one, while its parent waits for it).
   */
  private async cancelIn(m: EntityManager, id: string, depth = 0): Promise<void> {
    await m.update(ExecutionEntity, { id }, { cancelRequested: true });
    const status = (await m.findOneBy(ExecutionEntity, { id }))?.status;
    await this.move(
      id,
      'cancelQueued',
      'canceled',
      {
        error:
          status === 'awaiting_approval'
            ? 'canceled while waiting for approval'
            : status === 'awaiting_child'
              ? 'canceled while waiting for its child execution'
              : depth
                ? 'canceled: the parent execution was canceled'
                : CANCELED_BEFORE_START,
        notify: false,
      },
      m,
    );
    await this.events.publish({ id, kind: 'cancel' }, m);
    await this.events.publish({ id, kind: 'status' }, m);
    if (depth > 10) return;
    const children = await m.find(ExecutionEntity, {
      where: { parentExecutionId: id, status: Not(In([...FINAL_STATUSES])) },
      select: { id: true },
    });
    for (const c of children) await this.cancelIn(m, c.id, depth + 1);
  }

  /** The runbooks from the top-level run down to this execution's parent (the call chain). */
  async ancestorRunbooks(id: string): Promise<string[]> {
    const rows = await this.dataSource.query<Array<{ runbook_name: string }>>(
      `WITH RECURSIVE up(id, runbook_name, parent, depth) AS (
         SELECT p.id, p.runbook_name, p.parent_execution_id, 1
           FROM executions c JOIN executions p ON p.id = c.parent_execution_id WHERE c.id = $1
         UNION ALL
         SELECT p.id, p.runbook_name, p.parent_execution_id, up.depth + 1
           FROM up JOIN executions p ON p.id = up.parent WHERE up.depth < 20)
       SELECT runbook_name FROM up ORDER BY depth DESC`,
      [id],
    );
    return rows.map((r) => r.runbook_name);
  }

  /**
   * Parents waiting at a `runbook` step whose child has ended, released to the queue (one
   * conditional move each, so processes sweeping at once release each once). Returns their ids.
   */
  async releaseParentsOfEndedChildren(): Promise<string[]> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT p.id FROM executions p
         JOIN executions c ON c.id = (p.checkpoint->'child'->>'id')::uuid
        WHERE p.status = 'awaiting_child' AND c.status = ANY($1)
        ORDER BY p.created_at LIMIT 100`,
      [[...FINAL_STATUSES]],
    );
    const released: string[] = [];
    for (const { id } of rows)
      if (await this.dataSource.transaction((m) => this.release(id, m))) released.push(id);
    return released;
  }

  /** Ids of queued executions, oldest first (to enqueue again after a restart). */
  async queuedIds(): Promise<string[]> {
    const rows = await this.repo.find({
      where: { status: In([...fromStatuses('claim')]) },
      select: { id: true },
      order: { createdAt: 'ASC' },
    });
    return rows.map((r) => r.id);
  }

  /**
   * One move of the state table: UPDATE … WHERE status is one the move starts from (and the
   * extra conditions hold), and a status notice from the same statement when a row moved. The
   * timestamps follow from where it goes: running stamps started/heartbeat, a final status
   * stamps finished. Returns whether the row moved.
   */
  private async move(
    id: string,
    transition: ExecutionTransition,
    to: ExecutionStatus,
    opts: {
      worker?: string | null;
      error?: string | null;
      /** Only if a cancel was (true) or was not (false) requested. */
      cancelRequested?: boolean;
      /** Only if the last heartbeat is older than this. */
      heartbeatBefore?: Date;
      notify?: boolean;
    } = {},
    m: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    assertTransition(transition, to);
    const params: unknown[] = [id, to, fromStatuses(transition)];
    const bind = (v: unknown) => `$${params.push(v)}`;
    const sets = ['status = $2'];
    // A run resumed after an approval step keeps the time it first started.
    if (to === 'running')
      sets.push('started_at = COALESCE(started_at, now())', 'heartbeat_at = now()');
    if (isFinal(to)) sets.push('finished_at = now()');
    if (transition === 'claim' || transition === 'cancelQueued') sets.push('waiting_for = NULL');
    if (opts.worker !== undefined) sets.push(`worker = ${bind(opts.worker)}`);
    if (opts.error !== undefined) sets.push(`error = ${bind(opts.error)}`);
    const where = ['id = $1', 'status = ANY($3)'];
    if (opts.cancelRequested !== undefined)
      where.push(opts.cancelRequested ? 'cancel_requested' : 'NOT cancel_requested');
    if (opts.heartbeatBefore) where.push(`heartbeat_at < ${bind(opts.heartbeatBefore)}`);
    // The status notice is sent by the same statement, for the row that moved (none if none).
    const notice =
      opts.notify !== false ? `, ${this.events.noticeSql({ id, kind: 'status' }, bind)}` : '';
    const moved = await m.query<unknown[]>(
      `WITH moved AS (
         UPDATE executions SET ${sets.join(', ')} WHERE ${where.join(' AND ')} RETURNING id)
       SELECT id${notice} FROM moved`,
      params,
    );
    return moved.length > 0;
  }
}
