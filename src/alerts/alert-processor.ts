import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { PgNotifications } from '../database/pg-notifications.js';
import type { Actor } from '../executions/executions.service.js';
import { ExecutionsService } from '../executions/executions.service.js';
import { SEVERITIES, type Severity } from '../incidents/incident-rules.js';
import { IncidentTimelineService } from '../incidents/incident-timeline.service.js';
import type { IncidentEntity } from '../incidents/incident.entity.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import type { InternalAlert } from './alert.js';
import { AlertDeliveryEntity, type PlannedRun } from './alert-delivery.entity.js';
import { AlertEntity } from './alert.entity.js';
import { ALERT_CHANNEL } from './alert-intake.service.js';
import { IntegrationEntity, type IntegrationSettings } from './integration.entity.js';
import { IntegrationsService } from './integrations.service.js';
import { triggeredRuns } from './triggers.js';

/** Without a notice (a missed one, another process's intake), pending deliveries are looked for this often. */
const POLL_MS = 2_000;

/** `INC-42` (the incidents module's human id). */
const incidentRef = (i: Pick<IncidentEntity, 'number'>) => `INC-${i.number}`;

const label = (a: Pick<InternalAlert, 'labels'>) =>
  `${a.labels.alertname ?? 'alert'}${a.labels.instance ? ` on ${a.labels.instance}` : ''}`;

export function severityOf(alerts: InternalAlert[], s: IntegrationSettings): Severity {
  const ranks = alerts.map((a) => {
    const v = a.labels[s.severityLabel];
    const mapped = v !== undefined ? s.severityMap[v] : undefined;
    return SEVERITIES.indexOf(mapped ?? s.defaultSeverity);
  });
  return SEVERITIES[Math.min(...ranks)];
}

/** Labels every alert shares (Alertmanager's commonLabels), for the incident. */
function commonLabels(alerts: InternalAlert[]): Record<string, string> {
  const [first, ...rest] = alerts;
  return Object.fromEntries(
    Object.entries(first.labels).filter(([k, v]) => rest.every((a) => a.labels[k] === v)),
  );
}

/**
 * Works out what stored deliveries mean, off the request path, in any process, one delivery at a
 * time per row (FOR UPDATE SKIP LOCKED), in delivery order per alert group (an advisory lock on
 * integration + group key), woken by NOTIFY, a short poll, and at start-up (nothing stored is
 * lost to a restart).
 *
 * `received` → in one transaction: each alert upserted by (integration, fingerprint) (a repeat
 * updates, never duplicates), a firing alert opens an incident or joins the open one of its group,
 * `alert.fired` / `alert.resolved` on the timeline, and the runs its triggers ask for planned →
 * `starting`: each planned run started through ExecutionsService.start as the integration's
 * service identity (a refusal goes on the timeline), the incident moved to `monitoring` when all
 * its alerts resolved and the integration says so → `processed`.
 */
@Injectable()
export class AlertProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AlertProcessor.name);
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly notifications: PgNotifications,
    private readonly integrations: IntegrationsService,
    private readonly incidents: IncidentsService,
    private readonly timeline: IncidentTimelineService,
    private readonly executions: ExecutionsService,
    private readonly runbooks: RunbooksService,
    private readonly nodes: NodeTargetsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe = await this.notifications.listen(
      ALERT_CHANNEL,
      () => this.kick(),
      () => this.kick(),
    );
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.running;
  }

  /** Processes pending deliveries until there are none (a kick meanwhile runs another round). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          while (!this.stopped && (await this.processOne()));
        } catch (err) {
          this.logger.warn(`alert processing: ${(err as Error).message}; retrying`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
  }

  /**
   * One step of the oldest pending delivery nobody else holds; false when there was none. A step
   * that fails is rolled back, and the delivery tried again later (backoff from 2 s doubling to
   * 5 min), never dropped; meanwhile the deliveries after it go on.
   */
  async processOne(): Promise<boolean> {
    let current: string | undefined;
    try {
      return await this.dataSource.transaction(async (m) => {
        const [row] = await m.query<Array<{ id: string }>>(
          `SELECT "id"::text AS id FROM "alert_deliveries"
            WHERE "processed_at" IS NULL AND ("next_attempt_at" IS NULL OR "next_attempt_at" <= now())
            ORDER BY "id" LIMIT 1 FOR UPDATE SKIP LOCKED`,
        );
        if (!row) return false;
        current = row.id;
        return this.step(m, row.id);
      });
    } catch (err) {
      if (current === undefined) throw err;
      this.logger.warn(`alert delivery ${current}: ${(err as Error).message}; retrying later`);
      await this.dataSource.query(
        `UPDATE "alert_deliveries" SET "attempts" = "attempts" + 1, "error" = $2,
           "next_attempt_at" = now() + make_interval(secs => LEAST(300, 2 * power(2, "attempts")))
         WHERE "id" = $1`,
        [current, (err as Error).message.slice(0, 2000)],
      );
      return true;
    }
  }

  /** One step of one locked delivery: received → starting, or starting → processed. */
  private async step(m: EntityManager, id: string): Promise<boolean> {
    const d = await m.findOneByOrFail(AlertDeliveryEntity, { id });
    const integration = await m.findOneBy(IntegrationEntity, { id: d.integrationId });
    let actor: Actor | undefined;
    try {
      if (!integration) throw new Error('the integration no longer exists');
      actor = await this.integrations.actorOf(integration);
    } catch (err) {
      await m.update(AlertDeliveryEntity, d.id, {
        state: 'processed',
        error: (err as Error).message,
        processedAt: new Date(),
      });
      return true;
    }
    if (d.state === 'received') await this.record(m, d, integration, actor);
    else await this.start(m, d, integration, actor);
    return true;
  }

  // ---- received → starting: alerts, incident, timeline, planned runs --------------------------

  private async record(
    m: EntityManager,
    d: AlertDeliveryEntity,
    integration: IntegrationEntity,
    actor: Actor,
  ): Promise<void> {
    // Deliveries of one group take turns (the row locks alone would let two processes interleave).
    await m.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `alerts:${integration.id}:${d.groupKey}`,
    ]);
    const fired: AlertEntity[] = [];
    const resolved: AlertEntity[] = [];
    for (const a of d.alerts) {
      const existing = await m.findOne(AlertEntity, {
        where: { integrationId: integration.id, fingerprint: a.fingerprint },
        lock: { mode: 'pessimistic_write' },
      });
      // A delivery older than the one that last changed the alert changes nothing.
      if (existing && BigInt(existing.lastDeliveryId) > BigInt(d.id)) continue;
      const changed = !existing || existing.status !== a.status;
      const row = await m.save(
        Object.assign(existing ?? m.create(AlertEntity, { integrationId: integration.id }), {
          fingerprint: a.fingerprint,
          status: a.status,
          labels: a.labels,
          annotations: a.annotations,
          startsAt: a.startsAt ? new Date(a.startsAt) : null,
          endsAt: a.endsAt ? new Date(a.endsAt) : null,
          generatorUrl: a.generatorURL,
          groupKey: d.groupKey,
          lastDeliveryId: d.id,
          lastSeenAt: new Date(),
        }),
      );
      if (!changed) continue;
      if (a.status === 'firing') fired.push(row);
      else if (existing) resolved.push(row);
    }

    // Resolves first: they go to incidents that exist (their locks before any audit lock).
    for (const r of resolved) {
      const incident = r.incidentId ? await this.findIncident(m, r.incidentId) : null;
      if (!incident) continue;
      await this.timeline.insert(m, incident, actor.audit, {
        kind: 'alert.resolved',
        summary: `resolved: ${label(r)}`,
        details: this.alertDetails(r, integration),
        subjectType: 'Alert',
        subjectId: r.id,
        dedupeKey: `alert:${r.id}:resolved:${d.id}`,
      });
    }

    const runs: PlannedRun[] = [];
    if (fired.length) {
      let incident = await this.openIncidentOf(m, integration.id, d.groupKey);
      if (!incident) {
        const firing = d.alerts.filter((a) => a.status === 'firing');
        const first = firing[0];
        const title = (first.annotations.summary || label(first)).slice(0, 200);
        ({ incident } = await this.incidents.declare(
          {
            title,
            severity: severityOf(firing, integration.settings),
            summary: first.annotations.description ?? undefined,
            labels: commonLabels(firing),
            source: 'alert',
            ...(integration.settings.commander
              ? { commander: integration.settings.commander }
              : {}),
          },
          actor,
          m,
        ));
      }
      const ref = incidentRef(incident);
      const diagnostics = await this.runbooks.list({ kind: 'diagnostic' }, actor.ability);
      for (const f of fired) {
        f.incidentId = incident.id;
        await m.update(AlertEntity, f.id, { incidentId: incident.id });
        await this.timeline.insert(m, incident, actor.audit, {
          kind: 'alert.fired',
          summary: `firing: ${label(f)}${f.annotations.summary ? ` — ${f.annotations.summary}` : ''}`,
          details: this.alertDetails(f, integration),
          subjectType: 'Alert',
          subjectId: f.id,
          dedupeKey: `alert:${f.id}:fired:${d.id}`,
        });
        for (const run of triggeredRuns(
          diagnostics.map((r) => r.version.definition),
          f,
          integration.settings.autoRun,
        )) {
          let nodes: string[] | null = null;
          if (run.targets) {
            // Only `names` is templated, each value a literal name: `*` selects nothing.
            nodes = (await this.nodes.resolve(run.targets)).map((n) => n.name);
          }
          runs.push({
            runbook: run.runbook,
            options: run.options,
            nodes,
            incident: ref,
            alert: f.id,
            ...(nodes?.length === 0
              ? {
                  error: `no node matches the trigger's targets (${JSON.stringify(run.targets?.names ?? [])})`,
                }
              : {}),
          });
        }
      }
    }
    await m.query(
      `UPDATE "alert_deliveries" SET "state" = 'starting', "runs" = $2::jsonb WHERE "id" = $1`,
      [d.id, JSON.stringify(runs)],
    );
  }

  private alertDetails(a: AlertEntity, integration: IntegrationEntity) {
    return {
      source: integration.type,
      integration: integration.name,
      fingerprint: a.fingerprint,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      groupKey: a.groupKey,
      ...(a.generatorUrl ? { link: a.generatorUrl } : {}),
    };
  }

  private async findIncident(m: EntityManager, id: string): Promise<IncidentEntity | null> {
    try {
      return await this.incidents.find(id, m);
    } catch {
      return null;
    }
  }

  /** The open (not resolved) incident an alert of this group opened or joined last. */
  private async openIncidentOf(
    m: EntityManager,
    integrationId: string,
    groupKey: string,
  ): Promise<IncidentEntity | null> {
    const [row] = await m.query<Array<{ incident_id: string }>>(
      `SELECT "incident_id" FROM "alerts" WHERE "integration_id" = $1 AND "group_key" = $2
         AND "incident_id" IS NOT NULL ORDER BY "last_seen_at" DESC LIMIT 1`,
      [integrationId, groupKey],
    );
    const incident = row ? await this.findIncident(m, row.incident_id) : null;
    return incident && incident.status !== 'resolved' ? incident : null;
  }

  // ---- starting → processed: runs, monitoring --------------------------------------------------

  private async start(
    m: EntityManager,
    d: AlertDeliveryEntity,
    integration: IntegrationEntity,
    actor: Actor,
  ): Promise<void> {
    const runs = d.runs.map((r) => ({ ...r }));
    for (const run of runs) {
      if (!run.execution && !run.error) {
        try {
          const e = await this.executions.start(
            {
              runbook: run.runbook,
              options: run.options,
              ...(run.nodes ? { nodes: run.nodes } : {}),
              incidentId: run.incident,
              trigger: 'alert',
            },
            actor,
          );
          run.execution = e.id;
          await this.timeline.append(
            run.incident,
            {
              kind: 'execution.started',
              summary: `started ${e.runbookName} v${e.runbookVersion} on ${e.targets.length} node(s) for alert ${run.alert}`,
              details: {
                runbook: e.runbookName,
                version: e.runbookVersion,
                nodes: e.targets.map((t) => t.name),
                trigger: 'alert',
                link: `/executions/${e.id}`,
                logs: `/executions/${e.id}/logs`,
              },
              subjectType: 'Execution',
              subjectId: e.id,
              dedupeKey: `execution:${e.id}:started`,
            },
            actor.audit,
          );
          continue;
        } catch (err) {
          run.error = (err as Error).message;
        }
      }
      if (run.error && !run.execution) {
        await this.timeline
          .append(
            run.incident,
            {
              kind: 'alert.run_refused',
              summary: `${run.runbook} not started: ${run.error}`,
              details: {
                runbook: run.runbook,
                options: run.options,
                nodes: run.nodes,
                error: run.error,
              },
              subjectType: 'Alert',
              subjectId: run.alert,
              dedupeKey: `delivery:${d.id}:refused:${run.alert}:${run.runbook}`,
            },
            actor.audit,
          )
          .catch((err: Error) => this.logger.warn(`timeline: ${err.message}`));
      }
    }
    if (integration.settings.monitorOnResolve) await this.monitorResolved(m, d, integration, actor);
    await m.query(
      `UPDATE "alert_deliveries" SET "state" = 'processed', "runs" = $2::jsonb, "processed_at" = now() WHERE "id" = $1`,
      [d.id, JSON.stringify(runs)],
    );
  }

  /** Each incident of this delivery's resolved alerts with no alert still firing → `monitoring`. */
  private async monitorResolved(
    m: EntityManager,
    d: AlertDeliveryEntity,
    integration: IntegrationEntity,
    actor: Actor,
  ): Promise<void> {
    const fingerprints = d.alerts.filter((a) => a.status === 'resolved').map((a) => a.fingerprint);
    if (!fingerprints.length) return;
    const rows = await m.query<Array<{ incident_id: string }>>(
      `SELECT DISTINCT a."incident_id" FROM "alerts" a
        WHERE a."integration_id" = $1 AND a."fingerprint" = ANY($2) AND a."incident_id" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "alerts" b WHERE b."incident_id" = a."incident_id"
                            AND b."status" = 'firing')`,
      [integration.id, fingerprints],
    );
    for (const { incident_id } of rows) {
      const incident = await this.findIncident(this.dataSource.manager, incident_id);
      if (!incident || !['triggered', 'investigating', 'identified'].includes(incident.status))
        continue;
      try {
        await this.incidents.changeStatus(
          incident.id,
          'monitoring',
          'all of its alerts resolved',
          actor,
        );
      } catch (err) {
        // E.g. a person took over as commander: the status is theirs to move (the 403 is audited).
        this.logger.log(
          `${incidentRef(incident)} stays ${incident.status}: ${(err as Error).message}`,
        );
      }
    }
  }
}
