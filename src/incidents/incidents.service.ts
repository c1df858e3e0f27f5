import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { Gauge, Histogram } from 'prom-client';
import type { Observable } from 'rxjs';
import { tailStream, type TailEvent } from '../database/tail-stream.js';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { UsersService } from '../auth/users.service.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ExecutionEntity } from '../executions/execution.entity.js';
import { FINAL_STATUSES } from '../executions/execution-state.js';
import { ExecutionsService, type Actor } from '../executions/executions.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { INCIDENT_CHANNEL, IncidentEvents } from './incident-events.js';
import { IncidentRoleEntity } from './incident-role.entity.js';
import {
  checkTransition,
  firstReachedFields,
  isIcsRole,
  MULTI_HOLDER_ROLES,
  NOTE_MAX_CHARS,
  SEVERITIES,
  type IcsRole,
  type IncidentStatus,
  type Severity,
} from './incident-rules.js';
import { IncidentTimelineEntity } from './incident-timeline.entity.js';
import { IncidentEntity, incidentRef, type IncidentSource } from './incident.entity.js';
import { renderPostmortem } from './postmortem.js';
import { responseMetrics, secondsBetween, type ResponseMetrics } from './response-metrics.js';

export interface DeclareRequest {
  title: string;
  severity: Severity;
  summary?: string;
  services?: string[];
  labels?: Record<string, string>;
  /** Username of the first commander; default the declarer. */
  commander?: string;
  source?: IncidentSource;
}

export interface IncidentUpdate {
  title?: string;
  summary?: string | null;
  impact?: string | null;
  services?: string[];
  actionItems?: Array<{ text: string; owner?: string | null; done?: boolean }>;
}

export interface IncidentQuery {
  status?: IncidentStatus;
  severity?: Severity;
  from?: Date;
  to?: Date;
  limit: number;
}

/** What other modules (alerts, Slack, approvals) append; kinds are listed in docs/incidents.md. */
export interface TimelineEntry {
  kind: string;
  summary: string;
  details?: Record<string, unknown>;
  subjectType?: string | null;
  subjectId?: string | null;
  /** Appending twice with the same key records one entry. */
  dedupeKey?: string | null;
  at?: Date;
}

export interface IncidentWithRoles {
  incident: IncidentEntity;
  roles: IncidentRoleEntity[];
}

type TimeField = 'acknowledgedAt' | 'identifiedAt' | 'mitigatedAt' | 'resolvedAt';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REF_RE = /^INC-(\d{1,9})$/i;

/**
 * Incidents: declare, status and severity, ICS roles, the one timeline, runbooks run for an
 * incident, postmortem and response metrics. Every change is audited in its own transaction, and
 * other modules append to the timeline through `appendTimeline`, never through our tables.
 */
@Injectable()
export class IncidentsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IncidentsService.name);
  private unsubscribe: (() => void) | undefined;
  private readonly durations: Record<
    'acknowledgedAt' | 'mitigatedAt' | 'resolvedAt',
    Histogram<'severity'>
  >;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly executions: ExecutionsService,
    private readonly events: IncidentEvents,
    metrics: MetricsService,
  ) {
    const buckets = [60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200];
    const histogram = (stage: string, help: string) =>
      new Histogram({
        name: `firebreak_incident_time_to_${stage}_seconds`,
        help,
        labelNames: ['severity'],
        buckets,
        registers: [metrics.registry],
      });
    this.durations = {
      acknowledgedAt: histogram('acknowledge', 'Declared to first acknowledged, by severity'),
      mitigatedAt: histogram('mitigate', 'Declared to first monitoring (mitigated), by severity'),
      resolvedAt: histogram('resolve', 'Declared to resolved, by severity'),
    };
    const ds = this.dataSource;
    new Gauge({
      name: 'firebreak_incidents_open',
      help: 'Incidents not resolved, by severity',
      labelNames: ['severity'],
      registers: [metrics.registry],
      async collect() {
        const rows = await ds.query<Array<{ severity: string; n: number }>>(
          `SELECT severity, count(*)::int AS n FROM incidents WHERE status <> 'resolved' GROUP BY severity`,
        );
        for (const s of SEVERITIES)
          this.set({ severity: s }, rows.find((r) => r.severity === s)?.n ?? 0);
      },
    });
  }

  private get repo() {
    return this.dataSource.getRepository(IncidentEntity);
  }

  /** API processes record when an incident's execution finishes (deduplicated across processes). */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    this.unsubscribe = await this.events.onExecution((n) => {
      void this.recordExecutionFinished(n.id).catch((err: Error) =>
        this.logger.warn(`timeline for execution ${n.id}: ${err.message}`),
      );
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** An incident by `INC-42` or uuid; 404 otherwise. */
  async find(ref: string, m: EntityManager = this.dataSource.manager, lock = false) {
    const num = REF_RE.exec(ref)?.[1];
    const where = num ? { number: Number(num) } : UUID_RE.test(ref) ? { id: ref } : null;
    const incident = where
      ? await m.findOne(IncidentEntity, {
          where,
          ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
        })
      : null;
    if (!incident) throw notFound('Incident', ref);
    return incident;
  }

  rolesOf(incidentId: string, m: EntityManager = this.dataSource.manager) {
    return m.find(IncidentRoleEntity, {
      where: { incidentId },
      order: { assignedAt: 'ASC', role: 'ASC' },
    });
  }

  async get(ref: string): Promise<IncidentWithRoles> {
    const incident = await this.find(ref);
    return { incident, roles: await this.rolesOf(incident.id) };
  }

  async list(q: IncidentQuery): Promise<IncidentWithRoles[]> {
    const qb = this.repo.createQueryBuilder('i');
    if (q.status) qb.andWhere('i.status = :status', { status: q.status });
    if (q.severity) qb.andWhere('i.severity = :severity', { severity: q.severity });
    if (q.from) qb.andWhere('i.created_at >= :from', { from: q.from });
    if (q.to) qb.andWhere('i.created_at < :to', { to: q.to });
    const incidents = await qb.orderBy('i.number', 'DESC').limit(q.limit).getMany();
    const roles = incidents.length
      ? await this.dataSource
          .getRepository(IncidentRoleEntity)
          .createQueryBuilder('r')
          .where('r.incident_id IN (:...ids)', { ids: incidents.map((i) => i.id) })
          .orderBy('r.assigned_at', 'ASC')
          .getMany()
      : [];
    return incidents.map((incident) => ({
      incident,
      roles: roles.filter((r) => r.incidentId === incident.id),
    }));
  }

  async timeline(ref: string, afterId: string | undefined, limit: number) {
    const incident = await this.find(ref);
    return this.entriesAfter(incident.id, afterId ?? '0', limit);
  }

  private entriesAfter(incidentId: string, afterId: string, limit: number) {
    return this.dataSource
      .getRepository(IncidentTimelineEntity)
      .createQueryBuilder('t')
      .where('t.incident_id = :incidentId AND t.id > :afterId', { incidentId, afterId })
      .orderBy('t.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * The timeline as server-sent events: every entry after `afterId` (the Last-Event-ID), then new
   * ones as any process appends them (LISTEN/NOTIFY). Never ends by itself.
   */
  stream(incidentId: string, afterId: string): Observable<TailEvent<IncidentTimelineEntity>> {
    return tailStream({
      after: afterId,
      fetch: (after, limit) => this.entriesAfter(incidentId, after, limit),
      pageSize: 500,
      cursorOf: (r) => r.id,
      toEvent: (r) => ({ id: r.id, type: 'entry', data: r }),
      subscribe: (wake) =>
        this.events.onIncident((n) => {
          if (n.incidentId === incidentId) wake();
        }),
    });
  }

  // ---- changes --------------------------------------------------------------------------------

  async declare(req: DeclareRequest, actor: Actor): Promise<IncidentWithRoles> {
    const commander = req.commander
      ? await this.enabledUser(req.commander, 'commander')
      : await this.enabledUser(actor.principal.username, 'commander');
    return this.dataSource.transaction(async (m) => {
      const inserted = await m.save(
        m.create(IncidentEntity, {
          title: req.title,
          summary: req.summary ?? null,
          impact: null,
          severity: req.severity,
          status: 'triggered',
          services: req.services ?? [],
          labels: req.labels ?? {},
          source: req.source ?? 'manual',
          declaredBy: actor.principal.id,
          declaredByName: actor.principal.username,
          actionItems: [],
        }),
      );
      const incident = await m.findOneByOrFail(IncidentEntity, { id: inserted.id });
      const ref = incidentRef(incident);
      await this.append(m, incident, actor.audit, {
        kind: 'incident.declared',
        summary: `${ref} declared as ${incident.severity}: ${incident.title}`,
        details: { severity: incident.severity, source: incident.source },
        subjectType: 'Incident',
        subjectId: ref,
        at: incident.createdAt,
      });
      const role = await this.putRole(m, incident, 'commander', commander, actor.audit);
      await this.audit.record(
        actor.audit,
        {
          action: 'incident.declare',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: {
            ref,
            title: incident.title,
            severity: incident.severity,
            commander: commander.username,
          },
        },
        m,
      );
      return { incident, roles: [role] };
    });
  }

  async changeStatus(
    ref: string,
    to: IncidentStatus,
    note: string | undefined,
    actor: Actor,
  ): Promise<IncidentWithRoles> {
    return this.change(ref, 'change the status of', actor, async (m, incident) => {
      const from = incident.status;
      const check = checkTransition(from, to);
      if (!check.ok) {
        throw new DomainException('CONFLICT', `${incidentRef(incident)}: ${check.reason}`, {
          from,
          to,
          allowed: check.allowed,
        });
      }
      const now = new Date();
      const reached = firstReachedFields(incident, to);
      for (const f of reached) incident[f] = now;
      incident.status = to;
      await m.save(incident);
      await this.append(m, incident, actor.audit, {
        kind: check.reopen ? 'incident.reopened' : 'status.changed',
        summary: `${check.reopen ? 'reopened: ' : ''}${from} → ${to}${note ? `: ${note}` : ''}`,
        details: { from, to, ...(note ? { note } : {}) },
        subjectType: 'Incident',
        subjectId: incidentRef(incident),
        at: now,
      });
      await this.audit.record(
        actor.audit,
        {
          action: check.reopen ? 'incident.reopen' : 'incident.status',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: { ref: incidentRef(incident), from, to, note: note ?? null },
        },
        m,
      );
      return () => this.observeDurations(incident, reached);
    });
  }

  async changeSeverity(
    ref: string,
    severity: Severity,
    reason: string | undefined,
    actor: Actor,
  ): Promise<IncidentWithRoles> {
    return this.change(ref, 'change the severity of', actor, async (m, incident) => {
      const from = incident.severity;
      if (from === severity) {
        throw new DomainException('CONFLICT', `${incidentRef(incident)} is already ${severity}`, {
          severity,
        });
      }
      incident.severity = severity;
      await m.save(incident);
      await this.append(m, incident, actor.audit, {
        kind: 'severity.changed',
        summary: `${from} → ${severity}${reason ? `: ${reason}` : ''}`,
        details: { from, to: severity, ...(reason ? { reason } : {}) },
        subjectType: 'Incident',
        subjectId: incidentRef(incident),
      });
      await this.audit.record(
        actor.audit,
        {
          action: 'incident.severity',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: { ref: incidentRef(incident), from, to: severity, reason: reason ?? null },
        },
        m,
      );
    });
  }

  /** Assigns a role; a single-holder role already held by someone else is handed over. */
  async assignRole(
    ref: string,
    role: string,
    username: string,
    actor: Actor,
  ): Promise<IncidentWithRoles> {
    const r = this.icsRole(role);
    const user = await this.enabledUser(username, 'username');
    return this.change(ref, 'assign roles on', actor, async (m, incident) => {
      const holders = await m.find(IncidentRoleEntity, {
        where: { incidentId: incident.id, role: r },
      });
      if (holders.some((h) => h.userId === user.id)) {
        throw new DomainException(
          'CONFLICT',
          `${user.username} already holds ${r} on ${incidentRef(incident)}`,
          { role: r, username: user.username },
        );
      }
      const previous = MULTI_HOLDER_ROLES.includes(r) ? undefined : holders[0];
      if (previous) await m.delete(IncidentRoleEntity, { id: previous.id });
      await this.putRole(m, incident, r, user, actor.audit, previous?.username);
      await this.audit.record(
        actor.audit,
        {
          action: previous ? 'incident.role.handoff' : 'incident.role.assign',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: {
            ref: incidentRef(incident),
            role: r,
            username: user.username,
            ...(previous ? { from: previous.username } : {}),
          },
        },
        m,
      );
    });
  }

  async removeRole(
    ref: string,
    role: string,
    username: string,
    actor: Actor,
  ): Promise<IncidentWithRoles> {
    const r = this.icsRole(role);
    if (r === 'commander') {
      throw new DomainException(
        'CONFLICT',
        'an incident always has a commander: hand over to someone else instead',
        { role: r },
      );
    }
    return this.change(ref, 'remove roles on', actor, async (m, incident) => {
      const holder = await m.findOne(IncidentRoleEntity, {
        where: { incidentId: incident.id, role: r, username: username.toLowerCase() },
      });
      if (!holder) {
        throw new DomainException(
          'NOT_FOUND',
          `${username} does not hold ${r} on ${incidentRef(incident)}`,
          { role: r, username },
        );
      }
      await m.delete(IncidentRoleEntity, { id: holder.id });
      await this.append(m, incident, actor.audit, {
        kind: 'role.removed',
        summary: `${r}: ${holder.username} stood down`,
        details: { role: r, username: holder.username },
        subjectType: 'User',
        subjectId: holder.userId,
      });
      await this.audit.record(
        actor.audit,
        {
          action: 'incident.role.remove',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: { ref: incidentRef(incident), role: r, username: holder.username },
        },
        m,
      );
    });
  }

  async update(ref: string, u: IncidentUpdate, actor: Actor): Promise<IncidentWithRoles> {
    return this.change(ref, 'edit', actor, async (m, incident) => {
      const changed: string[] = [];
      const before: Record<string, unknown> = {};
      for (const key of ['title', 'summary', 'impact', 'services', 'actionItems'] as const) {
        if (u[key] === undefined) continue;
        const next =
          key === 'actionItems'
            ? u.actionItems!.map((a) => ({ text: a.text, owner: a.owner ?? null, done: !!a.done }))
            : u[key];
        if (JSON.stringify(incident[key]) === JSON.stringify(next)) continue;
        before[key] = incident[key];
        (incident as unknown as Record<string, unknown>)[key] = next;
        changed.push(key);
      }
      if (changed.length === 0) return;
      await m.save(incident);
      await this.append(m, incident, actor.audit, {
        kind: 'incident.updated',
        summary: `edited ${changed.join(', ')}`,
        details: { changed },
        subjectType: 'Incident',
        subjectId: incidentRef(incident),
      });
      await this.audit.record(
        actor.audit,
        {
          action: 'incident.update',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: {
            ref: incidentRef(incident),
            changed: Object.fromEntries(
              changed.map((k) => [k, { from: before[k], to: incident[k as keyof IncidentEntity] }]),
            ),
          },
        },
        m,
      );
    });
  }

  async addNote(ref: string, text: string, actor: Actor): Promise<IncidentTimelineEntity> {
    if (!actor.ability.can('create', 'IncidentNote')) throw await this.deny(actor, 'note', ref);
    if (text.trim().length === 0 || text.length > NOTE_MAX_CHARS) {
      throw validationFailed([
        {
          path: 'text',
          message: `a note must be 1 to ${NOTE_MAX_CHARS} characters (got ${text.length})`,
        },
      ]);
    }
    return this.dataSource.transaction(async (m) => {
      const incident = await this.find(ref, m);
      const entry = await this.append(m, incident, actor.audit, {
        kind: 'note',
        summary: text,
        subjectType: 'Incident',
        subjectId: incidentRef(incident),
      });
      await this.audit.record(
        actor.audit,
        {
          action: 'incident.note',
          subjectType: 'Incident',
          subjectId: incident.id,
          details: { ref: incidentRef(incident), entry: entry?.id, chars: text.length },
        },
        m,
      );
      return entry!;
    });
  }

  /** Runs a runbook for the incident, through ExecutionsService.start (which authorizes it). */
  async startExecution(
    ref: string,
    req: { runbook: string; version?: number; options?: Record<string, unknown>; nodes?: string[] },
    actor: Actor,
  ) {
    if (!actor.ability.can('run', 'Incident'))
      throw await this.deny(actor, 'run runbooks for', ref);
    const incident = await this.find(ref);
    const incRef = incidentRef(incident);
    if (incident.status === 'resolved') {
      throw new DomainException(
        'CONFLICT',
        `${incRef} is resolved: reopen it before running runbooks for it`,
        { incident: incRef },
      );
    }
    const execution = await this.executions.start(
      { ...req, incidentId: incRef, trigger: 'api' },
      actor,
    );
    await this.dataSource.transaction((m) =>
      this.appendStarted(m, incident, execution, actor.audit),
    );
    return execution;
  }

  /** `execution.started`, once per execution (the finish handler may get there first). */
  private appendStarted(
    m: EntityManager,
    incident: IncidentEntity,
    e: ExecutionEntity,
    ctx: Pick<AuditContext, 'actorId' | 'actorName'>,
  ) {
    return this.append(m, incident, ctx, {
      kind: 'execution.started',
      summary: `started ${e.runbookName} v${e.runbookVersion} on ${e.targets.length} node(s)`,
      details: {
        runbook: e.runbookName,
        version: e.runbookVersion,
        nodes: e.targets.map((t) => t.name),
        link: `/executions/${e.id}`,
        logs: `/executions/${e.id}/logs`,
      },
      subjectType: 'Execution',
      subjectId: e.id,
      dedupeKey: `execution:${e.id}:started`,
      at: e.createdAt,
    });
  }

  /** On an execution status notice: a final execution of an incident is put on its timeline once. */
  async recordExecutionFinished(executionId: string): Promise<void> {
    const e = await this.executions.getForSystem(executionId);
    if (!e?.incidentId || !FINAL_STATUSES.includes(e.status)) return;
    let incident: IncidentEntity;
    try {
      incident = await this.find(e.incidentId);
    } catch {
      return;
    }
    const by = { actorId: e.actorId, actorName: e.actorName };
    await this.dataSource.transaction(async (m) => {
      await this.appendStarted(m, incident, e, by);
      await this.append(m, incident, by, {
        kind: 'execution.finished',
        summary: `${e.runbookName} ${e.status}${e.error ? `: ${e.error}` : ''}`,
        details: {
          runbook: e.runbookName,
          status: e.status,
          error: e.error,
          link: `/executions/${e.id}`,
          logs: `/executions/${e.id}/logs`,
        },
        subjectType: 'Execution',
        subjectId: e.id,
        dedupeKey: `execution:${e.id}:finished`,
        at: e.finishedAt ?? new Date(),
      });
    });
  }

  /**
   * For other modules (alerts, Slack, approvals): appends one entry to an incident's timeline.
   * Pass `manager` to make it part of the caller's transaction; `dedupeKey` makes it idempotent.
   * Returns null when an entry with the same key exists.
   */
  async appendTimeline(
    ref: string,
    entry: TimelineEntry,
    ctx: AuditContext,
    manager?: EntityManager,
  ): Promise<IncidentTimelineEntity | null> {
    const write = async (m: EntityManager) => this.append(m, await this.find(ref, m), ctx, entry);
    return manager ? write(manager) : this.dataSource.transaction(write);
  }

  // ---- export and metrics ---------------------------------------------------------------------

  async postmortem(ref: string): Promise<string> {
    const { incident, roles } = await this.get(ref);
    const entries = await this.entriesAfter(incident.id, '0', 10_000);
    const started = entries.filter((e) => e.kind === 'execution.started');
    const finished = new Map(
      entries.filter((e) => e.kind === 'execution.finished').map((e) => [e.subjectId, e]),
    );
    return renderPostmortem({
      ref: incidentRef(incident),
      title: incident.title,
      summary: incident.summary,
      impact: incident.impact,
      severity: incident.severity,
      status: incident.status,
      source: incident.source,
      services: incident.services,
      declaredBy: incident.declaredByName,
      declaredAt: incident.createdAt,
      acknowledgedAt: incident.acknowledgedAt,
      identifiedAt: incident.identifiedAt,
      mitigatedAt: incident.mitigatedAt,
      resolvedAt: incident.resolvedAt,
      roles: roles.map((r) => ({ role: r.role, username: r.username, displayName: r.displayName })),
      timeline: entries.map((e) => ({
        at: e.at,
        kind: e.kind,
        actorName: e.actorName,
        summary: e.summary,
        link: typeof e.details.link === 'string' ? e.details.link : null,
      })),
      executions: started.map((s) => ({
        id: s.subjectId!,
        runbook: String(s.details.runbook),
        status: (finished.get(s.subjectId)?.details.status as string | undefined) ?? 'running',
        actorName: s.actorName,
        at: s.at,
        logs: String(s.details.logs),
      })),
      actionItems: incident.actionItems,
    });
  }

  async metrics(from?: Date, to?: Date): Promise<ResponseMetrics> {
    const qb = this.repo.createQueryBuilder('i');
    if (from) qb.andWhere('i.created_at >= :from', { from });
    if (to) qb.andWhere('i.created_at < :to', { to });
    const rows = await qb.getMany();
    return responseMetrics(
      rows.map((i) => ({
        severity: i.severity,
        status: i.status,
        declaredAt: i.createdAt,
        acknowledgedAt: i.acknowledgedAt,
        mitigatedAt: i.mitigatedAt,
        resolvedAt: i.resolvedAt,
      })),
      { from, to },
    );
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * Locks the incident, checks the caller is its commander or an admin (audited 403 otherwise),
   * runs the change, and returns the incident with its roles after commit.
   */
  private async change(
    ref: string,
    what: string,
    actor: Actor,
    fn: (m: EntityManager, incident: IncidentEntity) => Promise<void | (() => void)>,
  ): Promise<IncidentWithRoles> {
    let after: void | (() => void) = undefined;
    const incident = await this.dataSource.transaction(async (m) => {
      const incident = await this.find(ref, m, true);
      const commander = await m.findOne(IncidentRoleEntity, {
        where: { incidentId: incident.id, role: 'commander' },
      });
      if (!actor.ability.can('update', subject('Incident', { commanderId: commander?.userId }))) {
        throw await this.deny(
          actor,
          what,
          incidentRef(incident),
          `only the incident commander (${commander?.username ?? 'none'}) or an admin may ${what} ${incidentRef(incident)}`,
        );
      }
      after = await fn(m, incident);
      return incident;
    });
    if (typeof after === 'function') (after as () => void)();
    return { incident, roles: await this.rolesOf(incident.id) };
  }

  /** Audits a record-level denial (like AbilityGuard's `denied`) and returns the 403. */
  private async deny(actor: Actor, attempted: string, ref: string, reason?: string) {
    const why =
      reason ??
      `your roles (${actor.principal.roles.join(', ') || 'none'}) do not allow you to ${attempted} incidents`;
    await this.audit.record(actor.audit, {
      action: 'access.denied',
      outcome: 'denied',
      subjectType: 'Incident',
      subjectId: ref,
      details: { attempted, reason: why },
    });
    return new DomainException('FORBIDDEN', why, { action: attempted, subject: 'Incident' });
  }

  private icsRole(role: string): IcsRole {
    if (!isIcsRole(role)) {
      throw validationFailed([
        {
          path: 'role',
          message: `unknown role ${JSON.stringify(role)}; one of commander, operations_lead, communications_lead, scribe, subject_matter_expert`,
        },
      ]);
    }
    return role;
  }

  private async enabledUser(username: string, path: string) {
    const user = await this.users.findByUsername(username);
    if (!user)
      throw validationFailed([{ path, message: `no user named ${JSON.stringify(username)}` }]);
    if (user.disabled) {
      throw validationFailed([
        { path, message: `user ${user.username} is disabled and cannot hold an incident role` },
      ]);
    }
    return user;
  }

  private async putRole(
    m: EntityManager,
    incident: IncidentEntity,
    role: IcsRole,
    user: { id: string; username: string; displayName: string },
    ctx: AuditContext,
    previous?: string,
  ): Promise<IncidentRoleEntity> {
    const row = await m.save(
      m.create(IncidentRoleEntity, {
        incidentId: incident.id,
        role,
        userId: user.id,
        username: user.username,
        displayName: user.displayName,
        assignedAt: new Date(),
        assignedBy: ctx.actorName,
      }),
    );
    await this.append(m, incident, ctx, {
      kind: previous ? 'role.handoff' : 'role.assigned',
      summary: previous ? `${role}: ${previous} → ${user.username}` : `${role}: ${user.username}`,
      details: { role, username: user.username, ...(previous ? { from: previous } : {}) },
      subjectType: 'User',
      subjectId: user.id,
    });
    return row;
  }

  /** Inserts one entry (or nothing, on a duplicate dedupe key) and notifies live viewers. */
  private async append(
    m: EntityManager,
    incident: IncidentEntity,
    ctx: Pick<AuditContext, 'actorId' | 'actorName'>,
    e: TimelineEntry,
  ): Promise<IncidentTimelineEntity | null> {
    const values = {
      incidentId: incident.id,
      at: e.at ?? new Date(),
      kind: e.kind,
      actorId: ctx.actorId,
      actorName: ctx.actorName,
      summary: e.summary,
      details: e.details ?? {},
      subjectType: e.subjectType ?? null,
      subjectId: e.subjectId ?? null,
      dedupeKey: e.dedupeKey ?? null,
    };
    const res = await m
      .createQueryBuilder()
      .insert()
      .into(IncidentTimelineEntity)
      .values(values as never)
      .orIgnore()
      .returning('id')
      .execute();
    const rows = res.raw as Array<{ id: string }>;
    if (rows.length === 0) return null;
    const id = String(rows[0].id);
    await m.query('SELECT pg_notify($1, $2)', [
      INCIDENT_CHANNEL,
      JSON.stringify({ incidentId: incident.id, entryId: id }),
    ]);
    return Object.assign(new IncidentTimelineEntity(), { id, ...values });
  }

  private observeDurations(incident: IncidentEntity, reached: TimeField[]) {
    for (const f of reached) {
      if (f === 'identifiedAt') continue;
      const s = secondsBetween(incident.createdAt, incident[f]);
      if (s !== null) this.durations[f].observe({ severity: incident.severity }, s);
    }
  }
}
