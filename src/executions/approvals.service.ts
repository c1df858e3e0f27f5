import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource, In, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import type { Plan } from '../runbooks/runbook.plan.js';
import { durationMs } from '../runbooks/runbook.schema.js';
import { runbookAccess } from '../runbooks/runbooks.acl.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import {
  ApprovalDecisionEntity,
  ApprovalRequestEntity,
  type ApprovalState,
} from './approval.entity.js';
import { ExecutionEvents } from './execution-events.js';
import { EXECUTION_QUEUE, QueueUnavailable, type ExecutionQueue } from './execution-queue.js';
import { ExecutionEntity } from './execution.entity.js';
import { ExecutionRepository } from './execution.repository.js';
import type { ApprovalDecision } from './workflow.js';

/** How often every process looks for approvals that timed out or are due a reminder. */
const SWEEP_MS = 1000;

/** What to hold a run for: the whole run (`key` `run`) or an `approval` step in one batch. */
export interface HoldSpec {
  key: string;
  step: string | null;
  reason: string;
  plan: Plan | null;
  choices: string[] | null;
  /** References as written: roles (that role or higher), groups, `user:NAME`. */
  approvers: string[];
  rules: {
    required?: number;
    timeout?: string;
    onTimeout?: 'reject' | 'fail';
    remindEvery?: string;
  };
}

export interface Decider {
  principal: Principal;
  ability: AppAbility;
  audit: AuditContext;
}

export interface DecisionInput {
  decision: 'approve' | 'reject';
  comment?: string;
  choice?: string;
}

/** An approval request as the API shows it. */
export interface ApprovalView {
  id: string;
  executionId: string;
  runbook: string;
  version: number;
  step: string | null;
  state: ApprovalState;
  requestedBy: string;
  reason: string;
  plan: Plan | null;
  choices: string[] | null;
  choice: string | null;
  approvers: string[];
  required: number;
  onTimeout: 'reject' | 'fail';
  timeoutAt: string | null;
  reminders: number;
  createdAt: string;
  decidedAt: string | null;
  decisions: Array<{
    actor: string;
    decision: 'approve' | 'reject';
    comment: string | null;
    choice: string | null;
    at: string;
  }>;
}

/** A decision refused: audited after its transaction rolled back, then thrown. */
class Refused extends Error {
  constructor(readonly error: DomainException) {
    super(error.message);
  }
}

/**
 * Approvals: a run held before anything executes, or paused at an `approval` step, waits here
 * for people. Four eyes (the requester never decides), approvers by role, group or `user:NAME`,
 * N approvals, a timeout with an explicit outcome and reminders, all driven by the database
 * (conditional UPDATEs, so any number of processes may sweep and decide at once, and a restart
 * loses nothing). A waiting run holds no worker and no connection: a decision moves it to the
 * queue, or ends it.
 */
@Injectable()
export class ApprovalsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ApprovalsService.name);
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Released runs whose job the queue would not take yet: the sweep dispatches them again. */
  private readonly undispatched = new Set<string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(EXECUTION_QUEUE) private readonly queue: ExecutionQueue,
    private readonly executions: ExecutionRepository,
    private readonly events: ExecutionEvents,
    private readonly audit: AuditService,
    private readonly runbooks: RunbooksService,
  ) {}

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(() => {
      // Never rejects and never overlaps: a database outage must not take the process down.
      this.sweeping ??= this.sweep()
        .catch((err: Error) => this.logger.warn(`approval sweep failed: ${err.message}`))
        .finally(() => (this.sweeping = undefined));
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
  }

  /**
   * Records a hold in the caller's transaction (`m`): the request, its audit entry and a notice.
   * The execution must be (or become, in `m`) `awaiting_approval`.
   */
  async request(
    m: EntityManager,
    execution: Pick<ExecutionEntity, 'id' | 'runbookName' | 'runbookVersion'>,
    spec: HoldSpec,
    by: AuditContext,
  ): Promise<ApprovalRequestEntity> {
    const timeoutMs = spec.rules.timeout ? durationMs(spec.rules.timeout) : null;
    const remindMs = spec.rules.remindEvery ? durationMs(spec.rules.remindEvery) : null;
    const saved = await m.save(
      m.create(ApprovalRequestEntity, {
        executionId: execution.id,
        key: spec.key,
        step: spec.step,
        state: 'pending',
        requestedById: by.actorId,
        requestedByName: by.actorName,
        reason: spec.reason,
        plan: spec.plan,
        choices: spec.choices,
        approvers: spec.approvers,
        required: spec.rules.required ?? 1,
        onTimeout: spec.rules.onTimeout ?? 'reject',
        remindEveryMs: remindMs,
      }),
    );
    // The database's clock, as the sweep compares with it.
    await m.query(
      `UPDATE approval_requests
          SET timeout_at = created_at + $2::integer * interval '1 millisecond',
              next_reminder_at = created_at + $3::integer * interval '1 millisecond'
        WHERE id = $1`,
      [saved.id, timeoutMs, remindMs],
    );
    await this.audit.record(
      by,
      {
        action: 'approval.request',
        subjectType: 'Execution',
        subjectId: execution.id,
        details: {
          runbook: execution.runbookName,
          version: execution.runbookVersion,
          step: spec.step,
          reason: spec.reason,
          approvers: spec.approvers,
          required: spec.rules.required ?? 1,
          timeout: spec.rules.timeout ?? null,
          onTimeout: spec.rules.onTimeout ?? 'reject',
        },
      },
      m,
    );
    await this.events.publish({ id: execution.id, kind: 'approval', approval: 'requested' }, m);
    return saved;
  }

  /** The request of an execution with this key (the worker asks whether its step was decided). */
  findRequest(executionId: string, key: string): Promise<ApprovalRequestEntity | null> {
    return this.dataSource.getRepository(ApprovalRequestEntity).findOneBy({ executionId, key });
  }

  /**
   * How a step's request was decided, for the resumed workflow: null while undecided (or never
   * asked). The summary names who decided, their comments and the choice.
   */
  async stepDecision(executionId: string, key: string): Promise<ApprovalDecision | null> {
    const r = await this.findRequest(executionId, key);
    if (!r || r.state === 'pending') return null;
    if (r.state === 'expired')
      return {
        approved: false,
        choice: null,
        summary: `no decision before the approval timeout (${r.timeoutAt?.toISOString()})`,
      };
    const decisions = await this.dataSource.getRepository(ApprovalDecisionEntity).find({
      where: { requestId: r.id, decision: r.state === 'approved' ? 'approve' : 'reject' },
      order: { createdAt: 'ASC' },
    });
    const by = decisions
      .map((d) => `${d.actorName}${d.comment ? ` (${d.comment})` : ''}`)
      .join(', ');
    return {
      approved: r.state === 'approved',
      choice: r.choice,
      summary: `${r.state} by ${by}${r.choice ? `: ${r.choice}` : ''}`,
    };
  }

  /**
   * Approve or reject the execution's pending request. Refused with a 4xx naming why (not
   * waiting, your own run, not an approver, timed out, decided already, a bad choice): audited,
   * nothing changed. Enough approvals move the run to the queue; a rejection ends a held run
   * (`rejected`, nothing ran) or fails a paused step (the worker resumes to run `onError`).
   */
  async decide(executionId: string, input: DecisionInput, actor: Decider): Promise<ApprovalView> {
    const e = await this.dataSource.getRepository(ExecutionEntity).findOneBy({ id: executionId });
    if (!e) throw notFound('Execution', executionId);
    // 404 unless the caller may see the runbook (approvers may).
    await this.runbooks.get(e.runbookName, actor.ability);
    // Redis down: 503 before anything is decided, as a start does (the decision would have to
    // put the run on a queue that cannot take it).
    const queueDown = this.queue.unavailable();
    if (queueDown) throw new QueueUnavailable(queueDown);
    let release: boolean;
    let requestId: string;
    try {
      ({ release, requestId } = await this.dataSource.transaction(async (m) => {
        const [{ status, now }] = await m.query<Array<{ status: string; now: Date }>>(
          'SELECT status, now() AS now FROM executions WHERE id = $1 FOR UPDATE',
          [executionId],
        );
        const requests = await m.find(ApprovalRequestEntity, {
          where: { executionId },
          order: { createdAt: 'DESC' },
        });
        const latest = requests[0];
        if (status !== 'awaiting_approval' || latest?.state !== 'pending') {
          throw new Refused(
            new DomainException(
              'CONFLICT',
              latest?.state === 'expired'
                ? `the approval timed out at ${latest.timeoutAt?.toISOString()}: execution is ${status}`
                : `execution is ${status}, not waiting for approval`,
              { status, approval: latest?.state ?? null },
            ),
          );
        }
        const r = latest;
        if (actor.principal.id === e.actorId || actor.principal.id === r.requestedById) {
          throw new Refused(
            new DomainException(
              'FORBIDDEN',
              'you started this execution: someone else must decide (four eyes)',
              { requester: r.requestedByName },
            ),
          );
        }
        if (!canDecide(actor.ability, e.runbookName, r.approvers)) {
          throw new Refused(
            new DomainException(
              'FORBIDDEN',
              `you are not among the approvers of this execution: ${r.approvers.join(', ')}`,
              { approvers: r.approvers },
            ),
          );
        }
        if (r.timeoutAt && r.timeoutAt <= now) {
          throw new Refused(
            new DomainException(
              'CONFLICT',
              `the approval timed out at ${r.timeoutAt.toISOString()}`,
              { timeoutAt: r.timeoutAt.toISOString() },
            ),
          );
        }
        const mine = await m.findOneBy(ApprovalDecisionEntity, {
          requestId: r.id,
          actorId: actor.principal.id,
        });
        if (mine) {
          throw new Refused(
            new DomainException(
              'CONFLICT',
              `you already decided (${mine.decision}) on this request`,
              {
                decision: mine.decision,
              },
            ),
          );
        }
        const choice = input.decision === 'approve' ? input.choice : undefined;
        if (input.decision === 'approve' && r.choices && !choice) {
          throw new Refused(
            validationFailed([
              { path: 'choice', message: `required: one of ${r.choices.join(', ')}` },
            ]),
          );
        }
        if (choice !== undefined && !r.choices?.includes(choice)) {
          throw new Refused(
            validationFailed([
              {
                path: 'choice',
                message: r.choices
                  ? `must be one of ${r.choices.join(', ')}`
                  : 'this approval offers no choices',
              },
            ]),
          );
        }
        await m.save(
          m.create(ApprovalDecisionEntity, {
            requestId: r.id,
            actorId: actor.principal.id,
            actorName: actor.principal.username,
            decision: input.decision,
            comment: input.comment ?? null,
            choice: choice ?? null,
          }),
        );
        const approvals = await m.countBy(ApprovalDecisionEntity, {
          requestId: r.id,
          decision: 'approve',
        });
        const state: ApprovalState =
          input.decision === 'reject'
            ? 'rejected'
            : approvals >= r.required
              ? 'approved'
              : 'pending';
        let released = false;
        if (state !== 'pending') {
          await m.update(
            ApprovalRequestEntity,
            { id: r.id },
            { state, choice: choice ?? null, decidedAt: () => 'now()' },
          );
          if (state === 'rejected' && r.step === null) {
            await this.executions.decline(
              e.id,
              'rejected',
              `rejected by ${actor.principal.username}${input.comment ? `: ${input.comment}` : ''}`,
              m,
            );
            await this.recordFinish(m, e, 'rejected', actor.audit);
          } else {
            // Approved, or a step rejected: the worker goes on (and fails the step, onError runs).
            released = await this.executions.release(e.id, m);
          }
        }
        await this.audit.record(
          actor.audit,
          {
            action: `approval.${input.decision}`,
            subjectType: 'Execution',
            subjectId: e.id,
            details: {
              runbook: e.runbookName,
              step: r.step,
              comment: input.comment ?? null,
              choice: choice ?? null,
              approvals,
              required: r.required,
              state,
            },
          },
          m,
        );
        await this.events.publish(
          {
            id: e.id,
            kind: 'approval',
            approval: input.decision === 'approve' ? 'approved' : 'rejected',
          },
          m,
        );
        return { release: released, requestId: r.id };
      }));
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      await this.audit.record(actor.audit, {
        action: `approval.${input.decision}`,
        outcome: 'denied',
        subjectType: 'Execution',
        subjectId: executionId,
        details: { runbook: e.runbookName, reason: err.error.message },
      });
      throw err.error;
    }
    if (release) await this.dispatch(executionId);
    return (await this.views([requestId], e))[0];
  }

  /**
   * Requests in `state` the caller may decide: never their own runs, only where they are an
   * approver; pending ones only while their execution waits and the caller has not decided yet.
   */
  async list(state: ApprovalState, actor: Pick<Decider, 'ability' | 'principal'>) {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT r.id FROM approval_requests r JOIN executions e ON e.id = r.execution_id
        WHERE r.state = $1
          AND ($1 <> 'pending' OR e.status = 'awaiting_approval')
          AND e.actor_id IS DISTINCT FROM $2 AND r.requested_by_id IS DISTINCT FROM $2
          AND NOT EXISTS (SELECT 1 FROM approval_decisions d
                           WHERE d.request_id = r.id AND d.actor_id = $2 AND $1 = 'pending')
        ORDER BY r.created_at ASC LIMIT 500`,
      [state, actor.principal.id],
    );
    const requests = await this.dataSource
      .getRepository(ApprovalRequestEntity)
      .find({ where: { id: In(rows.map((r) => r.id)) }, order: { createdAt: 'ASC' } });
    const executions = await this.dataSource
      .getRepository(ExecutionEntity)
      .findBy({ id: In([...new Set(requests.map((r) => r.executionId))]) });
    const byId = new Map(executions.map((e) => [e.id, e]));
    const mine = requests.filter((r) =>
      canDecide(actor.ability, byId.get(r.executionId)!.runbookName, r.approvers),
    );
    return this.viewsOf(mine, byId);
  }

  /** Every request of an execution, oldest first (GET /executions/:id shows them). */
  async forExecution(e: ExecutionEntity): Promise<ApprovalView[]> {
    const requests = await this.dataSource
      .getRepository(ApprovalRequestEntity)
      .find({ where: { executionId: e.id }, order: { createdAt: 'ASC' } });
    return this.viewsOf(requests, new Map([[e.id, e]]));
  }

  private async views(ids: string[], e: ExecutionEntity): Promise<ApprovalView[]> {
    const requests = await this.dataSource
      .getRepository(ApprovalRequestEntity)
      .findBy({ id: In(ids) });
    return this.viewsOf(requests, new Map([[e.id, e]]));
  }

  private async viewsOf(
    requests: ApprovalRequestEntity[],
    executions: Map<string, ExecutionEntity>,
  ): Promise<ApprovalView[]> {
    const decisions = requests.length
      ? await this.dataSource.getRepository(ApprovalDecisionEntity).find({
          where: { requestId: In(requests.map((r) => r.id)) },
          order: { createdAt: 'ASC' },
        })
      : [];
    return requests.map((r) => {
      const e = executions.get(r.executionId)!;
      return {
        id: r.id,
        executionId: r.executionId,
        runbook: e.runbookName,
        version: e.runbookVersion,
        step: r.step,
        state: r.state,
        requestedBy: r.requestedByName,
        reason: r.reason,
        plan: r.plan,
        choices: r.choices,
        choice: r.choice,
        approvers: r.approvers,
        required: r.required,
        onTimeout: r.onTimeout,
        timeoutAt: r.timeoutAt?.toISOString() ?? null,
        reminders: r.reminders,
        createdAt: r.createdAt.toISOString(),
        decidedAt: r.decidedAt?.toISOString() ?? null,
        decisions: decisions
          .filter((d) => d.requestId === r.id)
          .map((d) => ({
            actor: d.actorName,
            decision: d.decision,
            comment: d.comment,
            choice: d.choice,
            at: d.createdAt.toISOString(),
          })),
      };
    });
  }

  /**
   * Timeouts and reminders of pending requests whose execution still waits. Each is one
   * conditional UPDATE (… WHERE state = 'pending' AND due), so processes sweeping at once act
   * once, and a restart just sweeps again.
   */
  async sweep(): Promise<void> {
    // Parents waiting at a runbook step whose child ended go back to the queue.
    for (const id of await this.executions.releaseParentsOfEndedChildren()) await this.dispatch(id);
    for (const id of [...this.undispatched]) await this.dispatch(id);
    const due = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT r.id FROM approval_requests r JOIN executions e ON e.id = r.execution_id
        WHERE r.state = 'pending' AND e.status = 'awaiting_approval'
          AND (r.timeout_at <= now() OR r.next_reminder_at <= now())
        ORDER BY r.created_at LIMIT 100`,
    );
    for (const { id } of due) {
      if (!(await this.expire(id))) await this.remind(id);
    }
  }

  /** A request past its timeout: a held run ends (expired, or failed); a paused step fails. */
  private async expire(requestId: string): Promise<boolean> {
    let release: string | null = null;
    const expired = await this.dataSource.transaction(async (m) => {
      const [rows] = await m.query<[ApprovalRow[], number]>(
        `UPDATE approval_requests SET state = 'expired', decided_at = now()
          WHERE id = $1 AND state = 'pending' AND timeout_at <= now()
          RETURNING execution_id, step, on_timeout, timeout_at`,
        [requestId],
      );
      const r = rows[0];
      if (!r) return false;
      const e = await m.findOneByOrFail(ExecutionEntity, { id: r.execution_id });
      const error = `no decision before the approval timeout (${r.timeout_at.toISOString()})`;
      if (r.step === null) {
        const to = r.on_timeout === 'fail' ? 'failed' : 'expired';
        if (await this.executions.decline(e.id, to, error, m))
          await this.recordFinish(m, e, to, SYSTEM_ACTOR);
      } else if (await this.executions.release(e.id, m)) {
        release = e.id;
      }
      await this.audit.record(
        SYSTEM_ACTOR,
        {
          action: 'approval.expire',
          outcome: 'failure',
          subjectType: 'Execution',
          subjectId: e.id,
          details: { runbook: e.runbookName, step: r.step, onTimeout: r.on_timeout },
        },
        m,
      );
      await this.events.publish({ id: e.id, kind: 'approval', approval: 'expired' }, m);
      return true;
    });
    if (release) await this.dispatch(release);
    return expired;
  }

  /**
   * Puts a released run (now queued) on the queue. If the queue cannot take it (Redis went away
   * since the decision committed), the decision stands and the run stays queued: the sweep tries
   * again every second, and a worker that starts enqueues every queued run anyway.
   */
  private async dispatch(id: string): Promise<void> {
    try {
      await this.queue.enqueue(id);
      this.undispatched.delete(id);
    } catch (err) {
      if (!this.undispatched.has(id))
        this.logger.warn(
          `execution ${id} is queued but not dispatched yet: ${(err as Error).message}`,
        );
      this.undispatched.add(id);
    }
  }

  /** A reminder due: the next one scheduled, audited, logged and announced (for notifications). */
  private async remind(requestId: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const [rows] = await m.query<[ApprovalRow[], number]>(
        `UPDATE approval_requests
            SET reminders = reminders + 1,
                next_reminder_at = now() + remind_every_ms * interval '1 millisecond'
          WHERE id = $1 AND state = 'pending' AND next_reminder_at <= now()
          RETURNING execution_id, step, reminders, approvers`,
        [requestId],
      );
      const r = rows[0];
      if (!r) return;
      this.logger.log(
        `execution ${r.execution_id} still waits for approval${r.step ? ` at step ${r.step}` : ''} (reminder ${r.reminders}; approvers ${r.approvers.join(', ')})`,
      );
      await this.audit.record(
        SYSTEM_ACTOR,
        {
          action: 'approval.remind',
          subjectType: 'Execution',
          subjectId: r.execution_id,
          details: { step: r.step, reminder: r.reminders, approvers: r.approvers },
        },
        m,
      );
      await this.events.publish({ id: r.execution_id, kind: 'approval', approval: 'reminder' }, m);
    });
  }

  /** A held run that ended without running is audited as finished, like any other. */
  private recordFinish(m: EntityManager, e: ExecutionEntity, status: string, by: AuditContext) {
    return this.audit.record(
      by,
      {
        action: 'execution.finish',
        outcome: 'failure',
        subjectType: 'Execution',
        subjectId: e.id,
        details: { runbook: e.runbookName, version: e.runbookVersion, status },
      },
      m,
    );
  }
}

interface ApprovalRow {
  execution_id: string;
  step: string | null;
  on_timeout: 'reject' | 'fail';
  timeout_at: Date;
  reminders: number;
  approvers: string[];
}

/** Whether the caller is among `approvers` (roles and higher, groups, user:NAME; admins always). */
function canDecide(ability: AppAbility, runbook: string, approvers: string[]): boolean {
  return ability.can(
    'approve',
    subject(
      'Runbook',
      runbookAccess({ name: runbook, kind: 'remediation', approval: { approvers } }),
    ),
  );
}
