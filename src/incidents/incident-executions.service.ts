import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { ExecutionEntity } from '../executions/execution.entity.js';
import { isFinal } from '../executions/execution-state.js';
import { ExecutionsService, type Actor } from '../executions/executions.service.js';
import { incidentDenied } from './incident-access.js';
import { IncidentEvents } from './incident-events.js';
import { findIncident } from './incident-lookup.js';
import { IncidentTimelineService } from './incident-timeline.service.js';
import { incidentRef, type IncidentEntity } from './incident.entity.js';

/**
 * Runbooks run for an incident: starts them (through ExecutionsService, which authorizes the
 * runbook) and puts each on the timeline, `execution.started` when it starts and
 * `execution.finished` when an api process sees its final status notice, each exactly once.
 */
@Injectable()
export class IncidentExecutionsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IncidentExecutionsService.name);
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly executions: ExecutionsService,
    private readonly events: IncidentEvents,
    private readonly timeline: IncidentTimelineService,
  ) {}

  /** API processes record when an incident's execution finishes (deduplicated across processes). */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    this.unsubscribe = await this.events.onExecution((n) => {
      const record =
        n.kind === 'approval' && n.approval !== 'reminder'
          ? this.recordApprovals(n.id)
          : this.recordFinished(n.id);
      void record.catch((err: Error) =>
        this.logger.warn(`timeline for execution ${n.id}: ${err.message}`),
      );
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Runs a runbook for the incident, through ExecutionsService.start (which authorizes it). */
  async start(
    ref: string,
    req: {
      runbook: string;
      version?: number;
      options?: Record<string, unknown>;
      nodes?: string[];
      breakGlass?: { reason: string };
    },
    actor: Actor,
    trigger: 'api' | 'slack' = 'api',
  ) {
    if (!actor.ability.can('run', 'Incident'))
      throw await incidentDenied(this.audit, actor, 'run runbooks for', ref);
    const incident = await findIncident(this.dataSource.manager, ref);
    const incRef = incidentRef(incident);
    if (incident.status === 'resolved') {
      throw new DomainException(
        'CONFLICT',
        `${incRef} is resolved: reopen it before running runbooks for it`,
        { incident: incRef },
      );
    }
    const execution = await this.executions.start({ ...req, incidentId: incRef, trigger }, actor);
    await this.dataSource.transaction((m) =>
      this.recordStarted(m, incident, execution, actor.audit),
    );
    return execution;
  }

  /** `execution.started`, once per execution (the finish handler may get there first). */
  private recordStarted(
    m: EntityManager,
    incident: IncidentEntity,
    e: ExecutionEntity,
    ctx: Pick<AuditContext, 'actorId' | 'actorName'>,
  ) {
    return this.timeline.insert(m, incident, ctx, {
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
    });
  }

  /**
   * On an approval notice: the incident's execution's approval requests, decisions and expiries
   * are put on its timeline, each once (notices from any process, in any order).
   */
  async recordApprovals(executionId: string): Promise<void> {
    const e = await this.executions.getForSystem(executionId);
    if (!e?.incidentId) return;
    let incident: IncidentEntity;
    try {
      incident = await findIncident(this.dataSource.manager, e.incidentId);
    } catch {
      return;
    }
    const approvals = await this.executions.approvalsForSystem(e);
    await this.dataSource.transaction(async (m) => {
      await this.recordStarted(m, incident, e, { actorId: e.actorId, actorName: e.actorName });
      for (const a of approvals) {
        const at = a.step ? ` at step ${a.step}` : '';
        const details = { runbook: e.runbookName, step: a.step, link: `/executions/${e.id}` };
        await this.timeline.insert(
          m,
          incident,
          { actorId: e.actorId, actorName: a.requestedBy },
          {
            kind: 'approval.requested',
            summary: `${e.runbookName} waits for approval${at}: ${a.reason} (approvers: ${a.approvers.join(', ')})`,
            details: { ...details, approvers: a.approvers, required: a.required },
            subjectType: 'Execution',
            subjectId: e.id,
            dedupeKey: `approval:${a.id}:requested`,
          },
        );
        for (const d of a.decisions) {
          await this.timeline.insert(
            m,
            incident,
            { actorId: null, actorName: d.actor },
            {
              kind: d.decision === 'approve' ? 'approval.approved' : 'approval.rejected',
              summary: `${d.actor} ${d.decision === 'approve' ? 'approved' : 'rejected'} ${e.runbookName}${at}${d.choice ? ` (${d.choice})` : ''}${d.comment ? `: ${d.comment}` : ''}`,
              details: { ...details, comment: d.comment, choice: d.choice },
              subjectType: 'Execution',
              subjectId: e.id,
              dedupeKey: `approval:${a.id}:${d.actor}`,
            },
          );
        }
        // A break-glass run (during a change freeze) gets its own entries: who broke glass, why,
        // for which freeze, and who approved (or rejected) it.
        const glass = !a.step && e.breakGlass && !e.breakGlass.inheritedFrom ? e.breakGlass : null;
        if (glass) {
          const during = `during freeze ${glass.freeze} (until ${glass.until})`;
          const glassDetails = { ...details, freeze: glass.freeze, until: glass.until };
          await this.timeline.insert(
            m,
            incident,
            { actorId: e.actorId, actorName: a.requestedBy },
            {
              kind: 'freeze.break_glass_requested',
              summary: `${a.requestedBy} broke glass for ${e.runbookName} ${during}: ${glass.reason}`,
              details: { ...glassDetails, reason: glass.reason },
              subjectType: 'Execution',
              subjectId: e.id,
              dedupeKey: `break-glass:${e.id}:requested`,
            },
          );
          for (const d of a.decisions)
            await this.timeline.insert(
              m,
              incident,
              { actorId: null, actorName: d.actor },
              {
                kind:
                  d.decision === 'approve'
                    ? 'freeze.break_glass_approved'
                    : 'freeze.break_glass_rejected',
                summary: `${d.actor} ${d.decision === 'approve' ? 'approved' : 'rejected'} breaking glass for ${e.runbookName} ${during}${d.comment ? `: ${d.comment}` : ''}`,
                details: { ...glassDetails, comment: d.comment },
                subjectType: 'Execution',
                subjectId: e.id,
                dedupeKey: `break-glass:${e.id}:${d.actor}`,
              },
            );
        }
        if (a.state === 'expired') {
          await this.timeline.insert(
            m,
            incident,
            { actorId: null, actorName: 'system' },
            {
              kind: 'approval.expired',
              summary: `no decision on ${e.runbookName}${at} before the timeout: ${a.onTimeout === 'fail' ? 'failed' : 'rejected'}`,
              details: { ...details, onTimeout: a.onTimeout },
              subjectType: 'Execution',
              subjectId: e.id,
              dedupeKey: `approval:${a.id}:expired`,
            },
          );
        }
      }
    });
  }

  /** On an execution status notice: a final execution of an incident is put on its timeline once. */
  async recordFinished(executionId: string): Promise<void> {
    const e = await this.executions.getForSystem(executionId);
    if (!e?.incidentId || !isFinal(e.status)) return;
    let incident: IncidentEntity;
    try {
      incident = await findIncident(this.dataSource.manager, e.incidentId);
    } catch {
      return;
    }
    const by = { actorId: e.actorId, actorName: e.actorName };
    await this.dataSource.transaction(async (m) => {
      await this.recordStarted(m, incident, e, by);
      await this.timeline.insert(m, incident, by, {
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
      });
    });
  }
}
