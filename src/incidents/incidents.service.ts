import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { UsersService } from '../auth/users.service.js';
import { hasRole } from '../common/access/ability.js';
import { DomainException, validationFailed } from '../common/errors.js';
import type { Actor } from '../executions/executions.service.js';
import { incidentDenied } from './incident-access.js';
import { findIncident } from './incident-lookup.js';
import { IncidentRoleEntity } from './incident-role.entity.js';
import {
  checkTransition,
  firstReachedFields,
  isIcsRole,
  MULTI_HOLDER_ROLES,
  NOTE_MAX_CHARS,
  type IcsRole,
  type IncidentStatus,
  type Severity,
} from './incident-rules.js';
import type { IncidentTimelineEntity } from './incident-timeline.entity.js';
import { IncidentTimelineService } from './incident-timeline.service.js';
import { IncidentEntity, incidentRef, type IncidentSource } from './incident.entity.js';
import { ResponseMetricsService } from './response-metrics.service.js';

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

export interface IncidentWithRoles {
  incident: IncidentEntity;
  roles: IncidentRoleEntity[];
}

/**
 * Incident commands: declare, edit, status and severity, ICS roles and hand-offs, notes, plus the
 * reads they rest on. Only the commander or an admin changes an incident (notes: responders); each
 * change is audited in its own transaction, together with its timeline entries.
 */
@Injectable()
export class IncidentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly timeline: IncidentTimelineService,
    private readonly responseMetrics: ResponseMetricsService,
  ) {}

  private get repo() {
    return this.dataSource.getRepository(IncidentEntity);
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** An incident by `INC-42` or uuid; 404 otherwise. */
  find(ref: string, m: EntityManager = this.dataSource.manager, lock = false) {
    return findIncident(m, ref, lock);
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

  // ---- changes --------------------------------------------------------------------------------

  /** Pass `manager` to declare within the caller's transaction (alerts: with the alert rows). */
  async declare(
    req: DeclareRequest,
    actor: Actor,
    manager?: EntityManager,
  ): Promise<IncidentWithRoles> {
    const commander = await this.roleHolder(
      req.commander ?? actor.principal.username,
      'commander',
      'commander',
      actor,
      null,
    );
    const write = async (m: EntityManager): Promise<IncidentWithRoles> => {
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
      await this.timeline.insert(m, incident, actor.audit, {
        kind: 'incident.declared',
        summary: `${ref} declared as ${incident.severity}: ${incident.title}`,
        details: { severity: incident.severity, source: incident.source },
        subjectType: 'Incident',
        subjectId: ref,
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
    };
    return manager ? write(manager) : this.dataSource.transaction(write);
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
      await this.timeline.insert(m, incident, actor.audit, {
        kind: check.reopen ? 'incident.reopened' : 'status.changed',
        summary: `${check.reopen ? 'reopened: ' : ''}${from} → ${to}${note ? `: ${note}` : ''}`,
        details: { from, to, ...(note ? { note } : {}) },
        subjectType: 'Incident',
        subjectId: incidentRef(incident),
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
      return () => this.responseMetrics.observeReached(incident, reached);
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
      await this.timeline.insert(m, incident, actor.audit, {
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
    const user = await this.roleHolder(username, 'username', r, actor, ref);
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
      await this.timeline.insert(m, incident, actor.audit, {
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
      await this.timeline.insert(m, incident, actor.audit, {
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
    if (!actor.ability.can('create', 'IncidentNote'))
      throw await incidentDenied(this.audit, actor, 'note', ref);
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
      const entry = await this.timeline.insert(m, incident, actor.audit, {
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
        throw await incidentDenied(
          this.audit,
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

  /**
   * A user who may hold an incident role: enabled, and allowed to act in incidents (responder or
   * higher). A viewer handed the commander role could not manage the incident, so nobody but an
   * admin could; the refusal is a 422 naming the user and the role, and is audited.
   */
  private async roleHolder(
    username: string,
    path: string,
    role: IcsRole,
    actor: Actor,
    ref: string | null,
  ) {
    const user = await this.enabledUser(username, path);
    if (!hasRole(user, 'responder')) {
      const reason = `user ${user.username} cannot hold the ${role} role: only responders or higher act in incidents (their roles: ${user.roles.join(', ') || 'none'})`;
      await this.audit.record(actor.audit, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'Incident',
        subjectId: ref,
        details: { attempted: `give the ${role} role`, username: user.username, role, reason },
      });
      throw validationFailed([{ path, message: reason }]);
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
    await this.timeline.insert(m, incident, ctx, {
      kind: previous ? 'role.handoff' : 'role.assigned',
      summary: previous ? `${role}: ${previous} → ${user.username}` : `${role}: ${user.username}`,
      details: { role, username: user.username, ...(previous ? { from: previous } : {}) },
      subjectType: 'User',
      subjectId: user.id,
    });
    return row;
  }
}
