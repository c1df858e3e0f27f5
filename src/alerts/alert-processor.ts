import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import { AuditService } from '../audit/audit.service.js';
import { PgNotifications } from '../database/pg-notifications.js';
import type { ExecutionEntity } from '../executions/execution.entity.js';
import type { Actor } from '../executions/executions.service.js';
import { QueueUnavailable } from '../executions/execution-queue.js';
import { ExecutionsService } from '../executions/executions.service.js';
import { SEVERITIES, type Severity } from '../incidents/incident-rules.js';
import { IncidentTimelineService } from '../incidents/incident-timeline.service.js';
import type { IncidentEntity } from '../incidents/incident.entity.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import type { InternalAlert } from './alert.js';
import { AlertDeliveryEntity, type PlannedRun } from './alert-delivery.entity.js';
import { AlertEntity } from './alert.entity.js';
import { ALERT_CHANNEL, AlertIntakeService } from './alert-intake.service.js';
import {
  IntegrationEntity,
  type IntegrationSettings,
  type RateLimit,
} from './integration.entity.js';
import { IntegrationsService } from './integrations.service.js';
import {
  count,
  countEach,
  describeLimit,
  ingestScope,
  limitsOf,
  runScope,
  type Counted,
} from './storm-guard.js';
import { triggeredRuns } from './triggers.js';

/** Without a notice (a missed one, another process's intake), pending deliveries are looked for this often. */
const POLL_MS = 2_000;

/**
 * While this process's webhook intake is saturated (AlertIntakeService.saturated), processing
 * takes at most this share of the time: after each transaction it pauses four times as long
 * (at most YIELD_MAX_MS), so the requests get the CPU. Overloaded, the processor falls behind
 * whatever it does (a few hundred deliveries a second against thousands of requests); what it
 * would take from the intake makes every sender wait longer for its 202 instead. The oldest
 * deliveries, a storm's first, still go first, and it catches up at full speed when the load
 * ends. A processor in a process without hook traffic (ROLE=worker) never pauses.
 */
const SHARE_WHILE_SATURATED = 0.2;
const YIELD_MAX_MS = 1_000;
/**
 * Nor once the oldest delivery it took was stored longer ago than this: past it, processing runs
 * at full speed however saturated the intake, so yielding alone never makes an alert later than
 * this (a third of Alertmanager's default `group_wait`, which every alert waits before it is
 * sent at all).
 */
const YIELD_MAX_BEHIND_MS = 10_000;

/**
 * The business key of an automatic run (the executions' unique `schedule_fire` column, shared
 * with schedule fires): one firing episode of one alert (the delivery it started firing in: a
 * re-fire after a resolve comes in another delivery) × runbook × nodes (`*`: the runbook's own
 * targets). A start whose key exists links that execution instead of starting another.
 */
export function alertRunKey(
  delivery: string,
  run: Pick<PlannedRun, 'alert' | 'runbook' | 'nodes'>,
) {
  const what = `${run.runbook}@${run.nodes ? run.nodes.join(',') : '*'}`;
  const key = `alert:${run.alert}@${delivery}@${what}`;
  // The column holds 200 characters: a long runbook name or node list is hashed.
  return key.length <= 200
    ? key
    : `alert:${run.alert}@${delivery}@#${createHash('sha256').update(what).digest('hex')}`;
}

/**
 * The pause after a processing transaction that took `ms` (0: none), with the intake
 * `saturated` or not, the oldest delivery it took stored `behindMs` ago.
 */
export function yieldPause(ms: number, saturated: boolean, behindMs: number): number {
  if (!saturated || behindMs > YIELD_MAX_BEHIND_MS) return 0;
  return Math.min(YIELD_MAX_MS, (ms * (1 - SHARE_WHILE_SATURATED)) / SHARE_WHILE_SATURATED);
}

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
 * Deliveries claimed by one processing transaction at most: the `received` ones among them are
 * recorded together (one BEGIN/COMMIT, one claim and one read of each integration and its
 * identity for all; a storm's repeats are mostly this). A failure rolls them all back; the one it
 * happened on is retried with backoff, the others go again at once.
 */
const RECORD_BATCH = 20;
/** Pending deliveries a claim looks at for new groups at most (those stored since the last). */
const SINCE_MAX = 5_000;

/** A delivery's integration and its service identity, or why there is none. */
type KnownIntegration = { integration: IntegrationEntity; actor: Actor } | Error;
type KnownIntegrations = Map<string, KnownIntegration>;

/** A received delivery being recorded (recordAll), and what its recording found. */
interface Recording {
  d: AlertDeliveryEntity;
  integration: IntegrationEntity;
  actor: Actor;
  /** Its alerts to apply: all of them, or its resolves alone when it is held back. */
  alerts: InternalAlert[];
  /** Held back by the ingest limit. */
  limited: boolean;
  fired: AlertEntity[];
  resolved: AlertEntity[];
  runs: PlannedRun[];
}

/** An alert's identity: (integration, fingerprint), as one string. */
const alertKey = (integrationId: string, fingerprint: string) => `${integrationId}\0${fingerprint}`;

/** An ingest window as recordAll shares it between its deliveries (told: its incident). */
type IngestWindow = Pick<Counted, 'windowStart' | 'incidentId'>;

/** What an `alert.received` entry says of a delivery (writeReceipts). */
interface ReceiptRow {
  id: string;
  integration_id: string;
  group_key: string;
  alerts: unknown;
  truncated: number;
  request_id: string | null;
  source_ip: string | null;
  received_at: Date;
  user_id: string;
  username: string;
}
const RECEIPT_COLUMNS = `d."id"::text AS id, d."integration_id", d."group_key", d."alerts", d."truncated",
          d."request_id", d."source_ip", d."received_at", i."user_id", i."username"`;

interface ClaimedRow {
  id: string;
  integration_id: string;
  state: AlertDeliveryEntity['state'];
  group_key: string;
  alerts: InternalAlert[];
  runs: PlannedRun[];
  /** Its receipt is on the audit trail (else processOne writes it first). */
  audited: boolean;
  /** How long ago it was stored, by the database's clock. */
  behind_ms: number;
  /** claimSql: the newest pending delivery it looked at for new groups (the next look's start). */
  seen?: string | null;
  /** claimSql: claimed as a new group's first delivery. */
  fresh?: boolean;
}

/** How long ago a claimed delivery `d` was stored, by the database's clock (yieldPause). */
const BEHIND_MS = `extract(epoch FROM clock_timestamp() - d."received_at") * 1000 AS behind_ms`;
const COLUMNS = `d."id"::text AS id, d."integration_id", d."state", d."group_key", d."alerts", d."runs",
          d."audited", ${BEHIND_MS}`;
/** Not waiting out a failure's backoff. */
const READY = (t: string) => `(${t}."next_attempt_at" IS NULL OR ${t}."next_attempt_at" <= now())`;

/**
 * The oldest pending deliveries nobody else holds, locked, with what a step needs (one round
 * trip less per delivery than a claim then a read), among the oldest `head` pending ones.
 * Deliveries of one group are recorded in the order they were stored: one waits while an older
 * one of its group is still to be recorded (held by another process, say), unless that one is
 * waiting out a failure's backoff (then the later ones go on).
 *
 * Every pending delivery older than one of the head is in the head, so a group's oldest is found
 * there, with no look at the rest of the table. The look it replaces (NOT EXISTS an older one of
 * the group, per row) was planned as a walk of the primary key from the table's start past every
 * processed delivery, once the statistics said most were pending: 80 ms a claim after 2,600 of
 * 40,000 in 10 groups were processed, and 8.6 ms on average, 42 of the 81 s, in bench/alerts'
 * drain (README, "Eighth round").
 *
 * And first, a new group's first delivery: among the pending deliveries stored since the last
 * claim (`$1`: the newest it looked at; SINCE_MAX at a time), each group that has none in the
 * head (so all its pending deliveries are newer) and whose oldest pending delivery is that one
 * (one probe of the group index, asked as "the first row from this group on, in the index's
 * order": asked as "this group's first row", the planner walked the pending index from its
 * start, 1.2 ms a probe where dead entries of processed deliveries lay). Without it, a group
 * that appears mid-storm waited for the whole backlog ahead of it (25 s after a 10 s storm in
 * bench/alerts). Its receipt may not be written yet: processOne writes it first. One it misses
 * (more new groups than a batch takes, say) is reached through the head, as before.
 */
const claimSql = (limit: number, head: number) =>
  `WITH head AS MATERIALIZED (
     SELECT "id", "integration_id", "group_key", "state", ${READY('h')} AS ready
       FROM "alert_deliveries" h WHERE "processed_at" IS NULL ORDER BY "id" LIMIT ${head}),
   first AS (
     SELECT DISTINCT ON ("integration_id", "group_key") "id" FROM head
      WHERE "state" = 'received' AND ready ORDER BY "integration_id", "group_key", "id"),
   since AS MATERIALIZED (
     SELECT "id", "integration_id", "group_key" FROM "alert_deliveries" s
      WHERE "id" > $1 AND "processed_at" IS NULL AND "state" = 'received' AND ${READY('s')}
      ORDER BY "id" LIMIT ${SINCE_MAX}),
   fresh AS (
     SELECT n."id"
       FROM (SELECT DISTINCT ON ("integration_id", "group_key") "id", "integration_id", "group_key"
               FROM since ORDER BY "integration_id", "group_key", "id") n
      WHERE NOT EXISTS (SELECT 1 FROM head h WHERE h."integration_id" = n."integration_id"
                                               AND h."group_key" = n."group_key")
        AND n."id" = (SELECT o."id" FROM "alert_deliveries" o
                       WHERE (o."integration_id", o."group_key", o."id")
                               >= (n."integration_id", n."group_key", 0)
                         AND o."processed_at" IS NULL AND o."state" = 'received'
                         AND ${READY('o')}
                       ORDER BY o."integration_id", o."group_key", o."id" LIMIT 1))
   SELECT ${COLUMNS}, (SELECT max("id") FROM since)::text AS seen,
          d."id" IN (SELECT "id" FROM fresh) AS fresh
     FROM "alert_deliveries" d
    WHERE d."id" IN (SELECT "id" FROM head WHERE ready
                       AND ("state" <> 'received' OR "id" IN (SELECT "id" FROM first))
                     UNION SELECT "id" FROM fresh)
      AND d."processed_at" IS NULL AND ${READY('d')}
    ORDER BY d."id" IN (SELECT "id" FROM fresh) DESC, d."id" LIMIT ${limit}
    FOR UPDATE OF d SKIP LOCKED`;

/**
 * One delivery, anywhere among the pending ones, by the same rules: when the head has none to
 * give (all held by other processes, say). It may walk the whole pending index.
 */
const claimAnySql = `SELECT ${COLUMNS}
     FROM "alert_deliveries" d
    WHERE d."processed_at" IS NULL AND ${READY('d')}
      AND NOT (d."state" = 'received' AND EXISTS (
        SELECT 1 FROM "alert_deliveries" o
         WHERE o."integration_id" = d."integration_id" AND o."group_key" = d."group_key"
           AND o."processed_at" IS NULL AND o."id" < d."id" AND o."state" = 'received'
           AND ${READY('o')}))
    ORDER BY d."id" LIMIT 1 FOR UPDATE OF d SKIP LOCKED`;

const claimed = (m: EntityManager, row: ClaimedRow) =>
  m.create(AlertDeliveryEntity, {
    id: row.id,
    integrationId: row.integration_id,
    state: row.state,
    groupKey: row.group_key,
    alerts: row.alerts,
    runs: row.runs,
  });

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
  /** Counter moves of the step in progress, made once its transaction committed. */
  private afterCommit: Array<() => void> = [];
  private readonly runsSuppressed: Counter<'integration' | 'runbook'>;
  private readonly ingestLimited: Counter<'integration'>;
  private readonly runsDeferred: Counter<'integration'>;
  private readonly yielded: Counter;
  /** When the oldest delivery the last transaction took was stored (Date.now() terms). */
  private behindSince: number | undefined;
  /**
   * Set when a batch failed: deliveries up to this id are taken one at a time, so the failure
   * lands on its own delivery.
   */
  private oneByOneUntil: bigint | undefined;
  /** The newest pending delivery a claim looked at for new groups (claimSql's `since`). */
  private freshSince = '0';
  /** The delivery a failure of the transaction in progress is put down to (none: the batch's). */
  private blame: string | undefined;
  /** Ends a pause early (shutdown). */
  private wake: (() => void) | undefined;
  readonly testSeams: {
    /**
     * Called after an automatic run started and before it is recorded; a test throws there to
     * play a process dying in between (the step rolls back, the run stays started).
     */
    afterStart?: (executionId: string) => void | Promise<void>;
    /** While set, nothing is processed (bench/alerts: the intake measured on its own). */
    held?: boolean;
  } = {};

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly notifications: PgNotifications,
    private readonly integrations: IntegrationsService,
    private readonly incidents: IncidentsService,
    private readonly timeline: IncidentTimelineService,
    private readonly executions: ExecutionsService,
    private readonly runbooks: RunbooksService,
    private readonly nodes: NodeTargetsService,
    private readonly audit: AuditService,
    private readonly intake: AlertIntakeService,
    metrics: MetricsService,
  ) {
    this.runsSuppressed = new Counter({
      name: 'firebreak_alert_runs_suppressed_total',
      help: 'Automatic runs (one per node) the storm guard held back: over the per-runbook, per-node limit',
      labelNames: ['integration', 'runbook'],
      registers: [metrics.registry],
    });
    this.ingestLimited = new Counter({
      name: 'firebreak_alerts_ingest_limited_total',
      help: 'Alerts received over their integration ingest limit: stored, resolves applied, firing not processed',
      labelNames: ['integration'],
      registers: [metrics.registry],
    });
    this.runsDeferred = new Counter({
      name: 'firebreak_alert_runs_deferred_total',
      help: 'Automatic runs the execution queue could not take (Redis down): retried with backoff',
      labelNames: ['integration'],
      registers: [metrics.registry],
    });
    this.yielded = new Counter({
      name: 'firebreak_alert_processing_yielded_seconds_total',
      help: "Time alert processing paused to leave the CPU to this process's saturated webhook intake",
      registers: [metrics.registry],
    });
  }

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
    this.wake?.();
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.running;
  }

  /** Processes pending deliveries until there are none (a kick meanwhile runs another round). */
  kick(): void {
    if (this.stopped || this.testSeams.held) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          for (;;) {
            if (this.stopped || this.testSeams.held) break;
            // Both each round: while deliveries arrive faster than their receipts are audited,
            // audited ones are still processed (a storm's first alerts open their incidents
            // during the storm, not after it).
            const started = performance.now();
            const audited = await this.auditReceived();
            const processed = await this.processOne();
            if (!audited && !processed) break;
            await this.yieldToIntake(performance.now() - started);
          }
        } catch (err) {
          this.logger.warn(`alert processing: ${(err as Error).message}; retrying`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
  }

  /** After a round that took `ms`: the pause SHARE_WHILE_SATURATED asks for, if any. */
  private async yieldToIntake(ms: number): Promise<void> {
    if (this.stopped) return;
    const behind = this.behindSince === undefined ? 0 : Date.now() - this.behindSince;
    const pause = yieldPause(ms, this.intake.saturated(), behind);
    if (!pause) return;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pause);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    this.yielded.inc((performance.now() - started) / 1000);
  }

  /**
   * Writes the `alert.received` audit entries of up to 100 stored deliveries nobody else holds,
   * oldest first, in one transaction (one wait for the audit chain's lock and one INSERT, however
   * many deliveries came in meanwhile); false when there were none. A delivery processing reaches
   * before this does (a new group's first, claimed mid-storm) gets its receipt from processOne,
   * in its own transaction, first: either way the receipt comes before what the delivery did.
   */
  async auditReceived(): Promise<boolean> {
    // Usually there is none: one round trip (the partial index) instead of a transaction. A
    // delivery refused at the hook (`rejected`, where a source type stores those) is audited
    // as refused there, not as received.
    // ORDER BY "id": the planner then walks the small partial index of unaudited rows, where
    // without it, it chose a sequential scan past every audited row (2 ms a check at 15k rows).
    const [any] = await this.dataSource.query<unknown[]>(
      `SELECT 1 FROM "alert_deliveries" WHERE NOT "audited" AND "state" <> 'rejected'
        ORDER BY "id" LIMIT 1`,
    );
    if (!any) return false;
    return this.dataSource.transaction(async (m) => {
      const rows = await m.query<Array<ReceiptRow & { behind_ms: number }>>(
        `SELECT ${RECEIPT_COLUMNS}, ${BEHIND_MS}
           FROM "alert_deliveries" d JOIN "alert_integrations" i ON i."id" = d."integration_id"
          WHERE NOT d."audited" AND d."state" <> 'rejected'
          ORDER BY d."id" LIMIT 100 FOR UPDATE OF d SKIP LOCKED`,
      );
      if (!rows.length) return false;
      this.behindSince = Date.now() - Number(rows[0].behind_ms);
      await this.writeReceipts(m, rows);
      return true;
    });
  }

  /**
   * The receipts of claimed deliveries auditReceived has not reached. Claimed: locked by this
   * transaction, so auditReceived skips them meanwhile, and sees them audited after.
   */
  private async auditClaimed(m: EntityManager, ids: string[]): Promise<void> {
    if (!ids.length) return;
    const rows = await m.query<ReceiptRow[]>(
      `SELECT ${RECEIPT_COLUMNS}
         FROM "alert_deliveries" d JOIN "alert_integrations" i ON i."id" = d."integration_id"
        WHERE d."id" = ANY($1::bigint[]) AND NOT d."audited" ORDER BY d."id"`,
      [ids],
    );
    await this.writeReceipts(m, rows);
  }

  /**
   * `alert.received` entries, one segment of the audit chain: each names the integration's
   * identity, the request id and source address of the webhook request, and when it was received.
   */
  private async writeReceipts(m: EntityManager, rows: ReceiptRow[]): Promise<void> {
    if (!rows.length) return;
    await this.audit.recordMany(
      rows.map((r) => {
        const alerts = Array.isArray(r.alerts) ? (r.alerts as InternalAlert[]) : [];
        return {
          ctx: {
            actorId: r.user_id,
            actorName: r.username,
            requestId: r.request_id,
            sourceIp: r.source_ip,
          },
          event: {
            action: 'alert.received',
            subjectType: 'Integration',
            subjectId: r.integration_id,
            details: {
              delivery: r.id,
              receivedAt: r.received_at,
              groupKey: r.group_key,
              alerts: alerts.length,
              firing: alerts.filter((a) => a.status === 'firing').length,
              truncated: r.truncated,
            },
          },
        };
      }),
      m,
    );
    await m.query(`UPDATE "alert_deliveries" SET "audited" = true WHERE "id" = ANY($1::bigint[])`, [
      rows.map((r) => r.id),
    ]);
  }

  /**
   * One step of the oldest pending delivery nobody else holds, with the `received` ones after it
   * (RECORD_BATCH); false when there was none. A step that fails is rolled back with the rest of
   * its transaction, and its delivery tried again later (backoff from 2 s doubling to 5 min),
   * never dropped; meanwhile the deliveries after it go on. A batch that fails does not tell
   * which of its deliveries failed: its deliveries go again at once, one at a time, so the
   * failure lands on its own delivery alone.
   */
  async processOne(): Promise<boolean> {
    let current: string[] = [];
    this.afterCommit = [];
    try {
      const more = await this.dataSource.transaction(async (m) => {
        let rows = await m.query<ClaimedRow[]>(claimSql(RECORD_BATCH, RECORD_BATCH * 10), [
          this.freshSince,
        ]);
        const seen = rows[0]?.seen;
        if (!rows.length) rows = await m.query<ClaimedRow[]>(claimAnySql);
        if (!rows.length) return false;
        // In the order they were stored (a new group's first delivery was claimed first).
        rows.sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
        this.behindSince = Date.now() - Number(rows[0].behind_ms);
        if (this.oneByOneUntil !== undefined && BigInt(rows[0].id) > this.oneByOneUntil)
          this.oneByOneUntil = undefined;
        // A `starting` delivery (runs to start: their own transactions) alone; else the
        // `received` ones up to the next `starting` one, recorded together, sharing the
        // transaction and each integration's read. The rest are unlocked at commit.
        const end = rows.findIndex((r) => r.state !== 'received');
        const take =
          this.oneByOneUntil !== undefined ? 1 : end < 0 ? rows.length : Math.max(end, 1);
        const taken = rows.slice(0, take);
        // The next look for new groups starts after this one, or at a new group's delivery
        // claimed now but left for the next round (after a `starting` one, say).
        const left = rows.slice(take).find((r) => r.fresh);
        if (left) this.freshSince = (BigInt(left.id) - 1n).toString();
        else if (seen) this.freshSince = seen;
        const batch = taken.map((row) => claimed(m, row));
        current = batch.map((d) => d.id);
        this.blame = batch.length === 1 ? batch[0].id : undefined;
        // A receipt not yet written (a new group's first delivery): first, in this transaction.
        await this.auditClaimed(
          m,
          taken.filter((r) => !r.audited).map((r) => r.id),
        );
        const known: KnownIntegrations = new Map();
        if (batch[0].state === 'received') await this.recordAll(m, batch, known);
        else await this.startRuns(m, batch[0], known);
        return true;
      });
      for (const f of this.afterCommit) f();
      return more;
    } catch (err) {
      if (!current.length) throw err;
      const message = (err as Error).message;
      const blamed = this.blame;
      if (blamed === undefined) {
        this.oneByOneUntil = BigInt(current[current.length - 1]);
        this.logger.warn(
          `alert deliveries ${current[0]}–${current[current.length - 1]}: ${message}; retrying them one at a time`,
        );
        return true;
      }
      this.logger.warn(`alert delivery ${blamed}: ${message}; retrying later`);
      await this.dataSource.query(
        `UPDATE "alert_deliveries" SET "attempts" = "attempts" + 1, "error" = $2,
           "next_attempt_at" = now() + make_interval(secs => LEAST(300, 2 * power(2, "attempts")))
         WHERE "id" = $1`,
        [blamed, message.slice(0, 2000)],
      );
      return true;
    }
  }

  /**
   * The integration and its identity, or the reason a delivery of it cannot be processed (no
   * integration, no usable identity: recorded on the delivery). A failed read throws, as any
   * step's failure: rolled back and retried.
   */
  private async integrationOf(m: EntityManager, id: string): Promise<KnownIntegration> {
    const integration = await m.findOneBy(IntegrationEntity, { id });
    try {
      if (!integration) throw new Error('the integration no longer exists');
      return { integration, actor: await this.integrations.actorOf(integration) };
    } catch (err) {
      return err as Error;
    }
  }

  /**
   * A delivery's integration and identity, read once per transaction and integration (a batch
   * shares them; the next reads afresh); null when there is none, the reason recorded on the
   * delivery, which is then processed.
   */
  private async knownFor(
    m: EntityManager,
    d: AlertDeliveryEntity,
    cache: KnownIntegrations,
  ): Promise<{ integration: IntegrationEntity; actor: Actor } | null> {
    let known = cache.get(d.integrationId);
    if (!known) {
      known = await this.integrationOf(m, d.integrationId);
      cache.set(d.integrationId, known);
    }
    if (!(known instanceof Error)) return known;
    await m.update(AlertDeliveryEntity, d.id, {
      state: 'processed',
      error: known.message,
      processedAt: new Date(),
    });
    return null;
  }

  /** starting → processed: the runs a recorded delivery planned. */
  private async startRuns(
    m: EntityManager,
    d: AlertDeliveryEntity,
    cache: KnownIntegrations,
  ): Promise<void> {
    const known = await this.knownFor(m, d, cache);
    if (known) await this.start(m, d, known.integration, known.actor);
  }

  // ---- received → starting: alerts, incident, timeline, planned runs --------------------------

  /**
   * Received deliveries (of distinct alert groups: the claim takes at most one a group) recorded
   * as if one at a time in order, with the statements shared: every group's lock in one, each
   * integration's ingest count in one, the alerts of deliveries that share none in one locked
   * read and one upsert, and every delivery's new state in one. What differs per delivery (its
   * incident, timeline entries and planned runs) follows its alerts' upsert, delivery by delivery.
   */
  private async recordAll(
    m: EntityManager,
    ds: AlertDeliveryEntity[],
    cache: KnownIntegrations,
  ): Promise<void> {
    // A failure in what is a delivery's own is that delivery's (`blame`); in what the batch's
    // deliveries share, nobody's (processOne: one at a time then).
    const alone = ds.length === 1 ? ds[0].id : undefined;
    const own = async <T>(d: AlertDeliveryEntity, f: () => Promise<T>): Promise<T> => {
      this.blame = d.id;
      const result = await f();
      this.blame = alone;
      return result;
    };
    const work: Recording[] = [];
    for (const d of ds) {
      const known = await own(d, async () => {
        if (!Array.isArray(d.alerts)) throw new Error('its stored alerts are not a list');
        return this.knownFor(m, d, cache);
      });
      if (!known) continue;
      work.push({
        d,
        ...known,
        alerts: d.alerts,
        limited: false,
        fired: [],
        resolved: [],
        runs: [],
      });
    }
    if (!work.length) return;
    // Deliveries of one group take turns (the row locks alone would let two processes
    // interleave); every process takes a batch's group locks in one order (no deadlock).
    await m.query(
      `SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
         FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C") s`,
      [[...new Set(work.map((w) => `alerts:${w.integration.id}:${w.d.groupKey}`))]],
    );
    // The ingest limit: a delivery received while its window is over the limit is held back
    // whole (stored, marked `limited`, counted); only its resolves are applied.
    const byIntegration = new Map<string, Recording[]>();
    for (const w of work) {
      const ws = byIntegration.get(w.integration.id);
      if (ws) ws.push(w);
      else byIntegration.set(w.integration.id, [w]);
    }
    for (const ws of byIntegration.values()) {
      const { integration } = ws[0];
      const { ingestLimit } = limitsOf(integration.settings);
      const counted = await countEach(
        m,
        integration.id,
        ingestScope(integration.id),
        ingestLimit,
        ws.map((w) => w.alerts.length),
      );
      const window: IngestWindow = counted;
      for (const [k, w] of ws.entries()) {
        if (!w.alerts.length || counted.allowed[k] > 0) continue;
        w.limited = true;
        const all = w.alerts;
        w.alerts = all.filter((a) => a.status === 'resolved');
        const name = integration.name;
        this.afterCommit.push(() => this.ingestLimited.inc({ integration: name }, all.length));
        const held = all.length - w.alerts.length;
        if (held > 0)
          await own(w.d, () => this.tellIngestLimited(m, w.d, integration, w.actor, window, held));
      }
    }
    // Deliveries that share no alert go through the upsert together; one that shares an alert
    // with an earlier one waits for that one's incident to be recorded first.
    const chunks: Recording[][] = [];
    let seen = new Set<string>();
    for (const w of work) {
      const keys = w.alerts.map((a) => alertKey(w.integration.id, a.fingerprint));
      if (!chunks.length || keys.some((k) => seen.has(k))) {
        chunks.push([]);
        seen = new Set();
      }
      chunks[chunks.length - 1].push(w);
      for (const k of keys) seen.add(k);
    }
    for (const chunk of chunks) {
      await this.upsertAlerts(m, chunk);
      for (const w of chunk) await own(w.d, () => this.recordIncident(m, w));
    }
    // Nothing to start and no resolve to look at for `monitoring`: done in this one step.
    await m.query(
      `UPDATE "alert_deliveries" d SET "state" = x."state", "runs" = x."runs",
         "limited" = x."limited",
         "processed_at" = CASE WHEN x."state" = 'processed' THEN now() END
         FROM jsonb_to_recordset($1::jsonb)
           AS x("id" bigint, "state" varchar, "runs" jsonb, "limited" boolean)
        WHERE d."id" = x."id"`,
      [
        JSON.stringify(
          work.map((w) => ({
            id: w.d.id,
            state:
              !w.runs.length && !w.alerts.some((a) => a.status === 'resolved')
                ? 'processed'
                : 'starting',
            runs: w.runs,
            limited: w.limited,
          })),
        ),
      ],
    );
  }

  /**
   * A delivery's alerts that changed, after their upsert: resolves on their incidents' timelines,
   * fired ones on the open incident of their group (declared if there is none), and the runs
   * their triggers ask for (storm guard counted) planned.
   */
  private async recordIncident(m: EntityManager, w: Recording): Promise<void> {
    const { d, integration, actor, fired, resolved, runs } = w;
    const { runLimit } = limitsOf(integration.settings);
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
    if (!fired.length) return;
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
          source: integration.type,
          ...(integration.settings.commander ? { commander: integration.settings.commander } : {}),
        },
        actor,
        m,
      ));
    }
    const ref = incidentRef(incident);
    // Diagnostics, and remediations whose trigger opts in (triggers.ts decides which run);
    // an integration that may auto-run none does not read the runbooks.
    const candidates = integration.settings.autoRun.length
      ? await this.runbooks.listCurrent(actor.ability)
      : [];
    await m.query(`UPDATE "alerts" SET "incident_id" = $1 WHERE "id" = ANY($2::uuid[])`, [
      incident.id,
      fired.map((f) => f.id),
    ]);
    for (const f of fired) {
      f.incidentId = incident.id;
      await this.timeline.insert(m, incident, actor.audit, {
        kind: 'alert.fired',
        summary: `firing: ${label(f)}${f.annotations.summary ? ` — ${f.annotations.summary}` : ''}`,
        details: this.alertDetails(f, integration),
        subjectType: 'Alert',
        subjectId: f.id,
        dedupeKey: `alert:${f.id}:fired:${d.id}`,
      });
      for (const run of triggeredRuns(
        candidates.map((r) => r.version.definition),
        f,
        integration.settings.autoRun,
      )) {
        let nodes: string[] | null = null;
        if (run.targets) {
          // Only `names` is templated, each value a literal name: `*` selects nothing.
          nodes = (await this.nodes.resolve(run.targets)).map((n) => n.name);
        }
        if (nodes?.length === 0) {
          runs.push({
            runbook: run.runbook,
            options: run.options,
            nodes,
            incident: ref,
            alert: f.id,
            error: `no node matches the trigger's targets (${JSON.stringify(run.targets?.names ?? [])})`,
          });
          continue;
        }
        // The storm guard: each node (or the runbook's own targets) counts one run per window,
        // under the trigger's own limit if it sets one, else the integration's.
        const limit = run.storm ?? runLimit;
        const kept: string[] = [];
        const held: string[] = [];
        let window: Counted | undefined;
        for (const node of nodes ?? [null]) {
          window = await count(m, null, runScope(run.runbook, node), limit, 1);
          if (window.allowed) kept.push(node ?? '*');
          else held.push(node ?? '*');
        }
        const planned: PlannedRun = {
          runbook: run.runbook,
          options: run.options,
          nodes: nodes ? kept : null,
          incident: ref,
          alert: f.id,
        };
        if (held.length) {
          const reason = `storm guard: over ${describeLimit(limit, 'automatic runs')} on ${held.join(', ')}`;
          if (!kept.length) planned.suppressed = reason;
          await this.tellRunSuppressed(m, incident, actor, f, run.runbook, held, limit, window!);
          const [name, runbook, n] = [integration.name, run.runbook, held.length];
          this.afterCommit.push(() => this.runsSuppressed.inc({ integration: name, runbook }, n));
        }
        runs.push(planned);
      }
    }
  }

  /**
   * The alerts of deliveries that share none, each upserted by (integration, fingerprint), in
   * batches: per run of alerts with distinct fingerprints (a fingerprint seen again in a delivery
   * starts the next run, so the outcome is that of taking them one at a time in order), one
   * locked read of the rows there are (in integration and fingerprint order, as every process
   * takes them) and one upsert of all of them. A delivery older than the one that last changed
   * an alert changes nothing of it. Each delivery's alerts whose status changed (new and firing,
   * firing again; resolved after firing) go to its `fired` and `resolved`, in delivery order.
   */
  private async upsertAlerts(m: EntityManager, chunk: Recording[]): Promise<void> {
    const runs: Array<Array<{ w: Recording; a: InternalAlert }>> = [];
    let seen = new Set<string>();
    for (const w of chunk) {
      for (const a of w.alerts) {
        const k = alertKey(w.integration.id, a.fingerprint);
        if (!runs.length || seen.has(k)) {
          runs.push([]);
          seen = new Set();
        }
        seen.add(k);
        runs[runs.length - 1].push({ w, a });
      }
    }
    for (const run of runs) {
      const olds = await m.query<
        Array<{ integration_id: string; fingerprint: string; status: string; last: string }>
      >(
        `SELECT "integration_id", "fingerprint", "status", "last_delivery_id"::text AS last
           FROM "alerts"
          WHERE ("integration_id", "fingerprint") IN
                (SELECT * FROM unnest($1::uuid[], $2::varchar[]))
          ORDER BY "integration_id", "fingerprint" FOR UPDATE`,
        [run.map((x) => x.w.integration.id), run.map((x) => x.a.fingerprint)],
      );
      const old = new Map(olds.map((o) => [alertKey(o.integration_id, o.fingerprint), o]));
      // A delivery older than the one that last changed the alert changes nothing.
      const changing = run.filter(({ w, a }) => {
        const o = old.get(alertKey(w.integration.id, a.fingerprint));
        return !o || BigInt(o.last) <= BigInt(w.d.id);
      });
      if (!changing.length) continue;
      // Inserted or updated in one statement, new rows in the same order too.
      const rows = await m.query<
        Array<{
          integration_id: string;
          fingerprint: string;
          id: string;
          incident_id: string | null;
          starts_at: Date | null;
          ends_at: Date | null;
        }>
      >(
        `INSERT INTO "alerts" ("integration_id", "fingerprint", "status", "labels", "annotations",
           "starts_at", "ends_at", "generator_url", "group_key", "last_delivery_id", "last_seen_at")
         SELECT x."integration_id", x."fingerprint", x."status", x."labels", x."annotations",
                x."starts_at", x."ends_at", x."generator_url", x."group_key", x."delivery", now()
           FROM jsonb_to_recordset($1::jsonb) AS x("integration_id" uuid, "fingerprint" varchar,
                  "status" varchar, "labels" jsonb, "annotations" jsonb, "starts_at" timestamptz,
                  "ends_at" timestamptz, "generator_url" text, "group_key" text,
                  "delivery" bigint)
          ORDER BY x."integration_id", x."fingerprint"
         ON CONFLICT ("integration_id", "fingerprint") DO UPDATE SET
           "status" = EXCLUDED."status", "labels" = EXCLUDED."labels",
           "annotations" = EXCLUDED."annotations", "starts_at" = EXCLUDED."starts_at",
           "ends_at" = EXCLUDED."ends_at", "generator_url" = EXCLUDED."generator_url",
           "group_key" = EXCLUDED."group_key", "last_delivery_id" = EXCLUDED."last_delivery_id",
           "last_seen_at" = EXCLUDED."last_seen_at"
         RETURNING "integration_id", "fingerprint", "id", "incident_id", "starts_at", "ends_at"`,
        [
          JSON.stringify(
            changing.map(({ w, a }) => ({
              integration_id: w.integration.id,
              fingerprint: a.fingerprint,
              status: a.status,
              labels: a.labels,
              annotations: a.annotations,
              starts_at: a.startsAt ? new Date(a.startsAt).toISOString() : null,
              ends_at: a.endsAt ? new Date(a.endsAt).toISOString() : null,
              generator_url: a.generatorURL,
              group_key: w.d.groupKey,
              delivery: w.d.id,
            })),
          ),
        ],
      );
      const upserted = new Map(rows.map((r) => [alertKey(r.integration_id, r.fingerprint), r]));
      for (const { w, a } of changing) {
        const k = alertKey(w.integration.id, a.fingerprint);
        const o = old.get(k);
        if (o && o.status === a.status) continue;
        const row = upserted.get(k)!;
        const alert = m.create(AlertEntity, {
          id: row.id,
          integrationId: w.integration.id,
          fingerprint: a.fingerprint,
          status: a.status,
          labels: a.labels,
          annotations: a.annotations,
          startsAt: row.starts_at,
          endsAt: row.ends_at,
          generatorUrl: a.generatorURL,
          groupKey: w.d.groupKey,
          incidentId: row.incident_id,
          lastDeliveryId: w.d.id,
        });
        if (a.status === 'firing') w.fired.push(alert);
        else if (o) w.resolved.push(alert);
      }
    }
  }

  /**
   * Once per window and integration: `alert.ingest_limited` on the storm's incident (the open one
   * of an earlier window, else a new one), so the responders know alerts are being held back.
   * The window then names that incident (the batch's later deliveries see it told).
   */
  private async tellIngestLimited(
    m: EntityManager,
    d: AlertDeliveryEntity,
    integration: IntegrationEntity,
    actor: Actor,
    window: IngestWindow,
    held: number,
  ): Promise<void> {
    if (window.incidentId) return;
    const { ingestLimit } = limitsOf(integration.settings);
    const [prev] = await m.query<Array<{ incident_id: string }>>(
      `SELECT "incident_id" FROM "alert_rate_windows" WHERE "scope" = $1
         AND "incident_id" IS NOT NULL ORDER BY "window_start" DESC LIMIT 1`,
      [ingestScope(integration.id)],
    );
    let incident = prev ? await this.findIncident(m, prev.incident_id) : null;
    const limit = describeLimit(ingestLimit, 'alerts');
    if (!incident || incident.status === 'resolved') {
      const firing = d.alerts.filter((a) => a.status === 'firing');
      ({ incident } = await this.incidents.declare(
        {
          title: `Alert storm: ${integration.name} is over its ingest limit (${limit})`,
          severity: severityOf(firing, integration.settings),
          summary: `Alerts from ${integration.name} beyond ${limit} are stored but not processed until the window ends.`,
          labels: {},
          source: integration.type,
          ...(integration.settings.commander ? { commander: integration.settings.commander } : {}),
        },
        actor,
        m,
      ));
    }
    await m.query(
      `UPDATE "alert_rate_windows" SET "incident_id" = $3
        WHERE "scope" = $1 AND "window_start" = $2`,
      [ingestScope(integration.id), window.windowStart, incident.id],
    );
    window.incidentId = incident.id;
    const until = new Date(window.windowStart.getTime() + ingestLimit.windowSeconds * 1000);
    await this.timeline.insert(m, incident, actor.audit, {
      kind: 'alert.ingest_limited',
      summary: `${integration.name} is over its ingest limit (${limit}): firing alerts are stored but not processed until ${until.toISOString()}`,
      details: {
        source: integration.type,
        integration: integration.name,
        limit: ingestLimit,
        windowStart: window.windowStart,
        windowEnd: until,
        firstDelivery: d.id,
        held,
      },
      subjectType: 'Integration',
      subjectId: integration.id,
      dedupeKey: `storm:ingest:${integration.id}:${window.windowStart.getTime()}`,
    });
  }

  /** Once per window, incident, runbook and node: `alert.run_suppressed` on the alert's incident. */
  private async tellRunSuppressed(
    m: EntityManager,
    incident: IncidentEntity,
    actor: Actor,
    alert: AlertEntity,
    runbook: string,
    nodes: string[],
    limit: RateLimit,
    window: Counted,
  ): Promise<void> {
    for (const node of nodes) {
      const key = createHash('sha256')
        .update(`${incident.id}\0${runbook}\0${node}\0${window.windowStart.getTime()}`)
        .digest('hex')
        .slice(0, 40);
      await this.timeline.insert(m, incident, actor.audit, {
        kind: 'alert.run_suppressed',
        summary: `${runbook} not started on ${node === '*' ? 'its targets' : node}: storm guard, over ${describeLimit(limit, 'automatic runs')} (further ones are counted, not listed, until the window ends)`,
        details: {
          runbook,
          node,
          limit,
          windowStart: window.windowStart,
          windowEnd: new Date(window.windowStart.getTime() + limit.windowSeconds * 1000),
          alert: alert.id,
        },
        subjectType: 'Alert',
        subjectId: alert.id,
        dedupeKey: `storm:run:${key}`,
      });
    }
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
    let deferred: QueueUnavailable | undefined;
    for (const run of runs) {
      if (!run.execution && !run.error && !run.suppressed) {
        const key = alertRunKey(d.id, run);
        let e: ExecutionEntity | undefined;
        try {
          // Started before a crash (or a failure) kept it from being recorded: linked, not
          // started again. The unique business key makes that hold under any race as well.
          e =
            (await this.executions.byScheduleFire(key)) ??
            (await this.executions
              .start(
                {
                  runbook: run.runbook,
                  options: run.options,
                  ...(run.nodes ? { nodes: run.nodes } : {}),
                  incidentId: run.incident,
                  trigger: 'alert',
                  scheduleFire: key,
                },
                actor,
              )
              .catch(async (err: unknown) => {
                if (err instanceof QueueUnavailable) throw err;
                const existing = await this.executions.byScheduleFire(key);
                if (existing) return existing;
                throw err;
              }));
        } catch (err) {
          if (err instanceof QueueUnavailable) {
            // Redis down: nothing was written; this run and the rest wait for the next attempt.
            deferred = err;
            await this.tellDeferred(d, run, err, actor);
            break;
          }
          run.error = (err as Error).message;
        }
        if (e) {
          run.execution = e.id;
          await this.testSeams.afterStart?.(e.id);
          await this.timeline
            .append(
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
            )
            .catch((err: Error) => (run.error = err.message));
          continue;
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
    if (deferred) {
      // Kept `starting` with what was started so far; tried again with the usual backoff.
      const name = integration.name;
      this.afterCommit.push(() => this.runsDeferred.inc({ integration: name }));
      this.logger.warn(`alert delivery ${d.id}: ${deferred.message}; retrying later`);
      await m.query(
        `UPDATE "alert_deliveries" SET "runs" = $2::jsonb, "attempts" = "attempts" + 1, "error" = $3,
           "next_attempt_at" = now() + make_interval(secs => LEAST(300, 2 * power(2, "attempts")))
         WHERE "id" = $1`,
        [d.id, JSON.stringify(runs), deferred.message.slice(0, 2000)],
      );
      return;
    }
    if (integration.settings.monitorOnResolve) await this.monitorResolved(m, d, integration, actor);
    await m.query(
      `UPDATE "alert_deliveries" SET "state" = 'processed', "runs" = $2::jsonb, "processed_at" = now() WHERE "id" = $1`,
      [d.id, JSON.stringify(runs)],
    );
  }

  /** Once per delivery and run: `alert.run_deferred` (the queue could not take it; retried). */
  private async tellDeferred(
    d: AlertDeliveryEntity,
    run: PlannedRun,
    err: Error,
    actor: Actor,
  ): Promise<void> {
    await this.timeline
      .append(
        run.incident,
        {
          kind: 'alert.run_deferred',
          summary: `${run.runbook} not started yet: ${err.message}; retrying with backoff`,
          details: { runbook: run.runbook, nodes: run.nodes, error: err.message },
          subjectType: 'Alert',
          subjectId: run.alert,
          dedupeKey: `delivery:${d.id}:deferred:${run.alert}:${run.runbook}`,
        },
        actor.audit,
      )
      .catch((e: Error) => this.logger.warn(`timeline: ${e.message}`));
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
