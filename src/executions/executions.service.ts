import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import type { Request, Response } from 'express';
import { DataSource, type FindOptionsWhere } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { test as testCondition } from '../runbooks/condition.js';
import { validateOptions } from '../runbooks/options.js';
import { stepRetry, type RunbookDefinition } from '../runbooks/runbook.schema.js';
import type { NodeFilter } from '../nodes/node-filter.schema.js';
import { runbookAccess } from '../runbooks/runbooks.acl.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { renderNodeFilter } from '../nodes/node-filter.js';
import { renderText } from '../runbooks/template.js';
import { concurrencyOf } from './concurrency.js';
import { ExecutionEvents } from './execution-events.js';
import { ExecutionLogEntity } from './execution-log.entity.js';
import { EXECUTION_QUEUE, QueueUnavailable, type ExecutionQueue } from './execution-queue.js';
import { ExecutionResultEntity } from './execution-result.entity.js';
import { ExecutionEntity } from './execution.entity.js';
import { ExecutionRepository } from './execution.repository.js';
import { isFinal, type ExecutionStatus } from './execution-state.js';
import { LogStreams, type LogFormat } from './log-stream.js';
import { openOptions, sealOptions } from './secret-options.js';
import { ApprovalsService, type ApprovalView, type HoldSpec } from './approvals.service.js';
import { planRunbook } from '../runbooks/runbook.plan.js';
import { FreezesService } from '../runbooks/freezes.service.js';

export interface StartRequest {
  runbook: string;
  /** Pin an older version; default the current one. */
  version?: number;
  options?: Record<string, unknown>;
  /** Narrow the runbook's targets to these node names (must be among them). */
  nodes?: string[];
  incidentId?: string;
  trigger: 'api' | 'cli' | 'console' | 'slack' | 'alert' | 'rerun' | 'runbook' | 'schedule';
  rerunOf?: string;
  /**
   * A run during a change freeze in its scope: the reason; the run is then held for approval by
   * someone else (four eyes) instead of refused.
   */
  breakGlass?: { reason: string };
  /**
   * A business key, unique among executions: a scheduled run's fire time (`SCHEDULE_ID@FIRE_TIME`)
   * or an alert's automatic run (`alert:ALERT@DELIVERY@RUNBOOK@NODES`, see alert-processor.ts).
   */
  scheduleFire?: string;
}

/** A child execution: started by a parent's `runbook` step, run inline by the parent's worker. */
export interface ChildLink {
  parent: ExecutionEntity;
  step: string;
  /** The worker that claims the child at once (the parent's). */
  worker: string;
  /** Child options whose values come from the caller's secure options: they must be secure too. */
  secureFrom: readonly string[];
  /**
   * Whether the parent can wait for the child's approval (checkpointed at a main step); false
   * (a `between` gate or an `onError` step): a child whose approval applies is refused.
   */
  canWait: boolean;
}

export interface Actor {
  principal: Principal;
  ability: AppAbility;
  audit: AuditContext;
}

export interface ExecutionQuery {
  runbook?: string;
  status?: ExecutionStatus;
  actor?: string;
  from?: Date;
  to?: Date;
  before?: Date;
  limit: number;
}

export type { LogEvent } from './log-stream.js';
export { toLogEvent } from './log-stream.js';

/** A resolved node as the execution row pins it (what the worker connects to). */
function executionTarget(t: Awaited<ReturnType<NodeTargetsService['resolve']>>[number]) {
  return {
    id: t.id,
    name: t.name,
    hostname: t.hostname,
    port: t.port,
    user: t.user,
    attributes: t.attributes,
    ...(t.connection === 'local' ? { connection: 'local' as const } : {}),
  };
}

/**
 * The one way an execution starts, whoever asks (REST, CLI, console, Slack, alerts):
 * authorize against the concrete runbook → validate options → resolve targets → pin the version →
 * persist as queued → audit → enqueue (or, when its approval applies, persist as
 * `awaiting_approval` with the approval request, and enqueue on the decision). Also reads, cancels and streams executions. Running them
 * is the worker's (`ExecutionsProcessor`, `ExecutionRunner`); status writes are the repository's.
 */
@Injectable()
export class ExecutionsService {
  private readonly optionsKey: Buffer;
  private readonly outageLimitMs: number;
  private readonly logStreams: LogStreams;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(EXECUTION_QUEUE) private readonly queue: ExecutionQueue,
    private readonly runbooks: RunbooksService,
    private readonly nodes: NodeTargetsService,
    private readonly audit: AuditService,
    private readonly events: ExecutionEvents,
    private readonly executions: ExecutionRepository,
    private readonly approvals: ApprovalsService,
    private readonly freezes: FreezesService,
  ) {
    this.optionsKey = deriveKey(config.secretKey, 'execution-options');
    this.outageLimitMs = config.dbOutageLimitSeconds * 1000;
    this.logStreams = new LogStreams({
      dataSource,
      events,
      outageLimitMs: this.outageLimitMs,
      finalStatus: async (id) => {
        const e = await this.repo.findOneBy({ id });
        return e && isFinal(e.status) ? { status: e.status, error: e.error } : null;
      },
    });
  }

  private get repo() {
    return this.dataSource.getRepository(ExecutionEntity);
  }

  /**
   * With `child`, the execution is a `runbook` step's child: the same checks, linked to its
   * parent, claimed by the parent's worker instead of queued.
   */
  async start(req: StartRequest, actor: Actor, child?: ChildLink): Promise<ExecutionEntity> {
    const { runbook, version, current } = await this.runbooks.get(
      req.runbook,
      actor.ability,
      req.version,
    );
    const def = version.definition;
    // Who may run it, whether it needs approval and whether it is disabled come from the
    // runbook's current policy, whichever version is pinned: an old version never escapes
    // today's rules. The pinned version decides only what runs (options, targets, steps).
    const policy = current.definition;
    const access = runbookAccess(policy);
    const deny = async (reason: string, err: DomainException): Promise<never> => {
      await this.audit.record(actor.audit, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'Runbook',
        subjectId: def.name,
        details: { attempted: 'run', version: version.version, reason },
      });
      throw err;
    };
    if (!actor.ability.can('run', subject('Runbook', access))) {
      await deny(
        `your roles (${actor.principal.roles.join(', ') || 'none'}) and groups do not allow running ${def.name}`,
        new DomainException(
          'FORBIDDEN',
          `you may not run ${def.name}: it runs for ${access.runners.join(', ')}`,
          { runbook: def.name },
        ),
      );
    }
    if (runbook.disabled) {
      await deny(
        `runbook is disabled${runbook.disabledReason ? `: ${runbook.disabledReason}` : ''}`,
        new DomainException(
          'CONFLICT',
          `runbook ${def.name} is disabled${runbook.disabledReason ? `: ${runbook.disabledReason}` : ''}`,
        ),
      );
    }
    const v = validateOptions(def.options ?? [], req.options ?? {});
    if (!v.ok) throw validationFailed(v.problems.map(({ path, message }) => ({ path, message })));
    // Retries that name an option get their value checked now, before anything runs.
    for (const step of [...def.steps, ...(def.onError ?? [])]) {
      try {
        stepRetry(step, v.options.values);
      } catch (err) {
        throw validationFailed([
          { path: `steps.${step.name}.retry`, message: (err as Error).message },
        ]);
      }
    }
    const leaked = child?.secureFrom.filter((k) => !v.options.secure.has(k)) ?? [];
    if (leaked.length)
      throw validationFailed(
        leaked.map((k) => ({
          path: `options.${k}`,
          message: `gets a secure value of the caller, but is not a secure option of ${def.name}`,
        })),
      );

    const needsTargets = def.steps.some(
      (s) =>
        (s.on ?? (s.http || s.check?.http ? 'local' : 'targets')) === 'targets' &&
        !s.sleep &&
        !s.approval &&
        !s.runbook,
    );
    // A runbook that runs only on the Firebreak host, names no targets and is given no nodes
    // has none (it used to load, and store, the whole inventory on every start).
    // A child on its caller's nodes gets exactly those, none included.
    const targets =
      child && req.nodes?.length === 0
        ? []
        : needsTargets || def.targets?.nodes || req.nodes?.length
          ? await this.resolveTargets(def.targets?.nodes, v.options.values, req.nodes)
          : [];
    if (needsTargets && targets.length === 0 && !def.targets?.allowEmpty) {
      throw new DomainException('VALIDATION_FAILED', `no node matches the targets of ${def.name}`, [
        { path: 'targets', message: 'no node matches (set targets.allowEmpty to allow this)' },
      ]);
    }
    // A change freeze in scope (the runbook's current kind and tags, the resolved targets)
    // refuses the run, whichever door it came through, unless it is a break-glass run: then it
    // is held for approval by someone else, like a runbook-level approval.
    const breakGlass = await this.checkFreeze(req, policy, targets, deny, child);
    // A runbook-level approval that applies holds the whole run before anything executes.
    let hold: HoldSpec | undefined;
    if (policy.approval) {
      const approval = policy.approval;
      const matching = approval.when
        ? targets.filter((t) => {
            try {
              return testCondition(approval.when!, { options: v.options.values, node: t });
            } catch {
              // A current condition the pinned version's options cannot answer: fail closed.
              return true;
            }
          })
        : targets;
      if (!approval.when || matching.length) {
        if (child && !child.canWait) {
          await deny(
            'approval required',
            new DomainException(
              'CONFLICT',
              `${def.name} needs approval${matching.length ? ` for ${matching.map((t) => t.name).join(', ')}` : ''}: ${approval.reason ?? 'approval required'}; a runbook step in onError or a between gate cannot wait for approval`,
              { approvers: access.approvers },
            ),
          );
        }
        hold = {
          key: 'run',
          step: null,
          reason: `${approval.reason ?? 'approval required'}${approval.when ? ` (${approval.when} holds for ${matching.map((t) => t.name).join(', ')})` : ''}`,
          plan: planRunbook({ ...def, access: policy.access, approval }, v.options, targets),
          choices: null,
          approvers: approval.approvers ?? policy.access?.approve ?? ['admin'],
          rules: approval,
        };
      }
    }

    // A child of an approved break-glass run inherits it (its approval covered the whole run).
    if (breakGlass && !breakGlass.inheritedFrom) {
      if (child && !child.canWait)
        await deny(
          'break-glass needs approval',
          new DomainException(
            'FROZEN',
            `${def.name}: a break-glass run needs approval; a runbook step in onError or a between gate cannot wait for approval`,
            { freeze: breakGlass.freeze, until: breakGlass.until },
          ),
        );
      const reason = `break-glass during freeze ${breakGlass.freeze} (until ${breakGlass.until}): ${breakGlass.reason}`;
      hold = hold
        ? { ...hold, reason: `${reason}; ${hold.reason}` }
        : {
            key: 'run',
            step: null,
            reason,
            plan: planRunbook({ ...def, access: policy.access }, v.options, targets),
            choices: null,
            approvers: policy.approval?.approvers ?? policy.access?.approve ?? ['admin'],
            rules: {},
          };
    }

    // Redis down: 503 at once, before anything is written (Bull would hold the job for as long
    // as Redis is away).
    const queueDown = child ? null : this.queue.unavailable();
    if (queueDown) throw new QueueUnavailable(queueDown);

    const id = randomUUID();
    const secrets = Object.fromEntries(
      [...v.options.secure]
        .filter((k) => typeof v.options.values[k] === 'string')
        .map((k) => [k, v.options.values[k] as string]),
    );
    const masked = Object.fromEntries(
      Object.entries(v.options.values).map(([k, val]) => [
        k,
        v.options.secure.has(k) ? '****' : val,
      ]),
    );
    // Like access and approval, the concurrency policy is the runbook's current one.
    const concurrency = concurrencyOf(policy);
    const execution = await this.executions.create(
      {
        id,
        runbookName: def.name,
        runbookVersion: version.version,
        versionId: version.id,
        options: masked,
        secretOptions: Object.keys(secrets).length
          ? sealOptions(secrets, this.optionsKey, id)
          : null,
        targets: targets.map(executionTarget),
        actorId: actor.principal.id,
        actorName: actor.principal.username,
        trigger: req.trigger,
        incidentId: req.incidentId ?? child?.parent.incidentId ?? null,
        rerunOf: req.rerunOf ?? null,
        parentExecutionId: child?.parent.id ?? null,
        parentStep: child?.step ?? null,
        scheduleFire: req.scheduleFire ?? null,
        breakGlass,
        concurrencyPolicy: concurrency?.policy ?? null,
        concurrencyScope: concurrency?.scope ?? null,
      },
      {
        ctx: actor.audit,
        record: {
          action: 'execution.start',
          subjectType: 'Execution',
          subjectId: id,
          details: {
            runbook: def.name,
            version: version.version,
            options: masked,
            targets: targets.map((t) => t.name),
            trigger: req.trigger,
            incidentId: req.incidentId ?? child?.parent.incidentId ?? null,
            ...(child ? { parent: child.parent.id, parentStep: child.step } : {}),
            ...(breakGlass ? { breakGlass } : {}),
          },
          secretValues: v.options.secretValues,
        },
      },
      hold && ((m, e) => this.approvals.request(m, e, hold, actor.audit).then(() => undefined)),
      child?.worker,
    );
    // A held run waits for its decision, not for a worker (ApprovalsService enqueues it; a held
    // child too, and its parent waits for it); a child runs inline in its parent's worker.
    if (hold || child) return execution;
    try {
      await this.queue.enqueue(id);
    } catch (err) {
      // Lost Redis in between: never left queued without a job, never run later by surprise.
      await this.executions.cancelUndispatched(execution, `not started: ${(err as Error).message}`);
      throw err instanceof QueueUnavailable ? err : new QueueUnavailable((err as Error).message);
    }
    return execution;
  }

  /**
   * A start that `start` refused (a freeze, the concurrency policy, access, no matching node),
   * kept as a `refused` execution that never ran: a scheduled fire says so on the execution list,
   * as the identity it would have run as, audited (`execution.refused`). Null when the runbook
   * cannot be found for the caller (nothing to show it under).
   */
  async recordRefusal(
    req: StartRequest,
    actor: Actor,
    err: DomainException,
  ): Promise<ExecutionEntity | null> {
    let found: Awaited<ReturnType<RunbooksService['get']>>;
    try {
      found = await this.runbooks.get(req.runbook, actor.ability, req.version);
    } catch {
      return null;
    }
    const def = found.version.definition;
    const options = req.options ?? {};
    // The nodes it would have run on, as well as they can still be told.
    const targets = await this.resolveTargets(def.targets?.nodes, options, req.nodes).catch(
      () => [],
    );
    const id = randomUUID();
    const error = `refused: ${err.message}`.slice(0, 2000);
    return this.executions.createRefused(
      {
        id,
        runbookName: def.name,
        runbookVersion: found.version.version,
        versionId: found.version.id,
        options,
        secretOptions: null,
        targets: targets.map(executionTarget),
        actorId: actor.principal.id,
        actorName: actor.principal.username,
        trigger: req.trigger,
        incidentId: req.incidentId ?? null,
        rerunOf: null,
        parentExecutionId: null,
        parentStep: null,
        scheduleFire: req.scheduleFire ?? null,
        concurrencyPolicy: null,
        concurrencyScope: null,
      },
      error,
      {
        ctx: actor.audit,
        record: {
          action: 'execution.refused',
          outcome: 'denied',
          subjectType: 'Execution',
          subjectId: id,
          details: {
            runbook: def.name,
            version: found.version.version,
            trigger: req.trigger,
            code: err.code,
            reason: err.message,
            ...(err.details && typeof err.details === 'object' && !Array.isArray(err.details)
              ? { refusal: err.details }
              : {}),
          },
        },
      },
    );
  }

  /**
   * The freeze in scope of this run now: refused (423, audited) without break-glass; with it, the
   * freeze and the reason for the hold. Null when no freeze applies.
   */
  private async checkFreeze(
    req: StartRequest,
    policy: RunbookDefinition,
    targets: ReadonlyArray<{ name: string; attributes: Record<string, string> }>,
    deny: (reason: string, err: DomainException) => Promise<never>,
    child?: ChildLink,
  ): Promise<{ freeze: string; until: string; reason: string; inheritedFrom?: string } | null> {
    const reason = req.breakGlass?.reason;
    if (req.breakGlass !== undefined && (typeof reason !== 'string' || reason.trim().length < 10))
      throw validationFailed([
        {
          path: 'breakGlass.reason',
          message: 'a break-glass run needs a reason of at least 10 characters',
        },
      ]);
    if (reason !== undefined && reason.length > 500)
      throw validationFailed([{ path: 'breakGlass.reason', message: 'at most 500 characters' }]);
    const f = await this.freezes.activeFor(policy, targets);
    if (!f) return null;
    const until = f.until.toISOString();
    // The parent broke glass and someone else approved it (it runs): its child steps may too.
    const parentGlass = child?.parent.breakGlass;
    if (parentGlass)
      return {
        freeze: f.name,
        until,
        reason: parentGlass.reason,
        inheritedFrom: parentGlass.inheritedFrom ?? child.parent.id,
      };
    if (reason === undefined || req.trigger === 'schedule')
      return deny(
        `frozen by ${f.name} until ${until}`,
        new DomainException(
          'FROZEN',
          `${policy.name} is frozen until ${until} by freeze ${f.name}${f.reason ? ` (${f.reason})` : ''}; a break-glass run (breakGlass.reason) needs approval by someone else`,
          { freeze: f.name, reason: f.reason, until },
        ),
      );
    return { freeze: f.name, until, reason: reason.trim() };
  }

  private async resolveTargets(
    filter: NodeFilter | undefined,
    options: Record<string, unknown>,
    narrow: string[] | undefined,
  ) {
    const rendered = renderNodeFilter(
      filter,
      { options },
      (t, v, enc) => renderText(t, v, enc).text,
    );
    const all = await this.nodes.resolve(rendered, narrow);
    if (!narrow?.length) return all;
    const known = new Set(all.map((t) => t.name));
    const wanted = new Set(narrow);
    const unknown = narrow.filter((n) => !known.has(n));
    if (unknown.length) {
      throw new DomainException(
        'VALIDATION_FAILED',
        `not among this runbook's targets: ${unknown.join(', ')}`,
        [{ path: 'nodes', message: `not among this runbook's targets: ${unknown.join(', ')}` }],
      );
    }
    return all.filter((t) => wanted.has(t.name));
  }

  /** An execution by id with no access check, for system readers (the incident timeline). */
  getForSystem(id: string): Promise<ExecutionEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** The execution of a business key (`scheduleFire`), for the scheduler and the alert processor. */
  byScheduleFire(key: string): Promise<ExecutionEntity | null> {
    return this.repo.findOneBy({ scheduleFire: key });
  }

  /** The approval requests of an execution with their decisions, for system readers. */
  approvalsForSystem(e: ExecutionEntity): Promise<ApprovalView[]> {
    return this.approvals.forExecution(e);
  }

  /** An execution the caller may see: their own, or one of a runbook they may view. Else 404. */
  async get(id: string, actor: Pick<Actor, 'ability' | 'principal'>): Promise<ExecutionEntity> {
    const e = await this.repo.findOneBy({ id });
    if (!e || !(await this.canSee(e, actor))) throw notFound('Execution', id);
    return e;
  }

  private async canSee(
    e: ExecutionEntity,
    actor: Pick<Actor, 'ability' | 'principal'>,
  ): Promise<boolean> {
    if (e.actorId === actor.principal.id) return true;
    try {
      await this.runbooks.get(e.runbookName, actor.ability, e.runbookVersion);
      return true;
    } catch {
      return false;
    }
  }

  async list(
    q: ExecutionQuery,
    actor: Pick<Actor, 'ability' | 'principal'>,
  ): Promise<ExecutionEntity[]> {
    const where: FindOptionsWhere<ExecutionEntity> = {};
    if (q.runbook) where.runbookName = q.runbook;
    if (q.status) where.status = q.status;
    if (q.actor) where.actorName = q.actor;
    const qb = this.repo.createQueryBuilder('e').where(where);
    if (q.from) qb.andWhere('e.created_at >= :from', { from: q.from });
    if (q.to) qb.andWhere('e.created_at < :to', { to: q.to });
    if (q.before) qb.andWhere('e.created_at < :before', { before: q.before });
    // Visibility depends on each runbook's access, so filter in pages until the page is full
    // (or there is nothing more), rather than returning a short page.
    const visible: ExecutionEntity[] = [];
    const cache = new Map<string, boolean>();
    const batch = Math.max(q.limit * 2, 50);
    for (
      let offset = 0, pages = 0;
      visible.length < q.limit && pages < 20;
      offset += batch, pages++
    ) {
      const rows = await qb
        .clone()
        .orderBy('e.created_at', 'DESC')
        .addOrderBy('e.id', 'DESC')
        .skip(offset)
        .take(batch)
        .getMany();
      for (const e of rows) {
        const key = `${e.runbookName}@${e.runbookVersion}`;
        if (!cache.has(key)) cache.set(key, await this.canSee({ ...e, actorId: null }, actor));
        if (e.actorId === actor.principal.id || cache.get(key)) visible.push(e);
        if (visible.length === q.limit) break;
      }
      if (rows.length < batch) break;
    }
    return visible;
  }

  /** The child executions of `parentId` (its `runbook` steps' runs) the caller may see. */
  async children(
    parentId: string,
    actor: Pick<Actor, 'ability' | 'principal'>,
  ): Promise<ExecutionEntity[]> {
    const rows = await this.repo.find({
      where: { parentExecutionId: parentId },
      order: { createdAt: 'ASC' },
    });
    const visible: ExecutionEntity[] = [];
    for (const e of rows) if (await this.canSee(e, actor)) visible.push(e);
    return visible;
  }

  results(executionId: string) {
    return this.dataSource
      .getRepository(ExecutionResultEntity)
      .find({ where: { executionId }, order: { startedAt: 'ASC' } });
  }

  async logs(
    executionId: string,
    q: { afterSeq?: number; node?: string; step?: string; limit: number },
  ): Promise<ExecutionLogEntity[]> {
    const qb = this.dataSource
      .getRepository(ExecutionLogEntity)
      .createQueryBuilder('l')
      .where('l.execution_id = :id', { id: executionId });
    if (q.afterSeq) qb.andWhere('l.seq > :after', { after: q.afterSeq });
    if (q.node) qb.andWhere('l.node = :node', { node: q.node });
    if (q.step) qb.andWhere('l.step = :step', { step: q.step });
    return qb.orderBy('l.seq', 'ASC').limit(q.limit).getMany();
  }

  async cancel(id: string, actor: Actor): Promise<ExecutionEntity> {
    const e = await this.get(id, actor);
    // Whoever started it, or anyone who may run the runbook, may stop it.
    if (e.actorId !== actor.principal.id) {
      const { current } = await this.runbooks.get(e.runbookName, actor.ability);
      if (!actor.ability.can('run', subject('Runbook', runbookAccess(current.definition)))) {
        throw new DomainException('FORBIDDEN', `you may not cancel runs of ${e.runbookName}`);
      }
    }
    if (isFinal(e.status))
      throw new DomainException('CONFLICT', `execution is already ${e.status}`);
    return this.executions.requestCancel(id, {
      ctx: actor.audit,
      record: {
        action: 'execution.cancel',
        subjectType: 'Execution',
        subjectId: id,
        details: { runbook: e.runbookName, status: e.status },
      },
    });
  }

  /**
   * The same runbook version and options again (secure values included), as a new execution;
   * through `start`, so the runbook's current access, approval and `disabled` apply.
   */
  async rerun(id: string, actor: Actor): Promise<ExecutionEntity> {
    const e = await this.get(id, actor);
    const secrets = e.secretOptions ? openOptions(e.secretOptions, this.optionsKey, e.id) : {};
    return this.start(
      {
        runbook: e.runbookName,
        version: e.runbookVersion,
        options: { ...e.options, ...secrets },
        nodes: e.targets.map((t) => t.name),
        incidentId: e.incidentId ?? undefined,
        trigger: 'rerun',
        rerunOf: e.id,
      },
      actor,
    );
  }

  /** The live streams' figures (tests, metrics). */
  get streamStats(): { peakUnreadBytes: number; pageReads: number } {
    return this.logStreams.stats;
  }

  /**
   * Live output as server-sent events on `res`: every line after `afterSeq` (the
   * Last-Event-ID), then new ones as workers in any process write them (LISTEN/NOTIFY), ending
   * with the final status. All viewers of an execution share one tail (see LogStreams).
   */
  serveStream(req: Request, res: Response, id: string, afterSeq: number, format: LogFormat): void {
    this.logStreams.serve(req, res, id, afterSeq, format);
  }
}
