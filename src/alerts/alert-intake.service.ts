import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request } from 'express';
import type { FirebreakRequest } from '../common/request-context.js';
import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { queryPrepared } from '../database/prepared.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { AlertBatch } from './alert.js';
import type { IntegrationEntity } from './integration.entity.js';

/** Wakes AlertProcessor in every process (Postgres NOTIFY, sent when the delivery commits). */
export const ALERT_CHANNEL = 'firebreak_alert';

/**
 * Statements in flight at once; the deliveries that arrive meanwhile wait for the next one. One:
 * twice the deliveries per statement of two (8.6 against 4.3 at 20 connections), a fifth less
 * Postgres CPU per delivery, the same request rate (bench/alerts.bench.ts). Two again, on the
 * next machine: the intake alone, interleaved with the bare route, 0.44× and 0.53× against
 * 0.54× and 0.55× with one (README, "Seventh round").
 */
const MAX_IN_FLIGHT = 1;
/** Deliveries per statement at most. */
const MAX_BATCH = 200;
/**
 * Deliveries that waited for one statement together from which the intake counts as saturated:
 * requests arrive faster than they are stored (at 20 busy connections, 8 a statement; at a few
 * hundred requests a second, one).
 */
const SATURATED_BATCH = 4;
/** How long one saturated statement keeps the intake counted as saturated. */
const SATURATED_FOR_MS = 250;

interface Row {
  integrationId: string;
  groupKey: string;
  alerts: string;
  eventId: string | null;
  requestId: string | null;
  sourceIp: string | null;
  truncated: number;
}

interface Waiting {
  row: Row;
  resolve: (id: string) => void;
  reject: (err: unknown) => void;
}

/**
 * Stores deliveries (`received`) and wakes the processors. Group commit: the first delivery goes
 * to the database at once; those that arrive while statements are in flight go together in the
 * next one, a single INSERT … ON CONFLICT DO NOTHING with its NOTIFY (one statement, committed
 * together). Each request is answered once the statement that stored its delivery committed, so a
 * 202 still means stored. A statement that fails stores its deliveries one by one, so one bad
 * delivery fails only its own request. Its `alert.received` audit entry, with the request's id
 * and source address, is written by AlertProcessor before the delivery is processed (batched, so
 * webhook requests never queue on the audit chain's lock).
 */
@Injectable()
export class AlertIntakeService {
  private queue: Waiting[] = [];
  private inFlight = 0;
  /** When a statement last took SATURATED_BATCH deliveries or more (Date.now()). */
  private saturatedAt = Number.NEGATIVE_INFINITY;
  /** Statements and the deliveries they stored: the group commit's batch size is their ratio. */
  private readonly statements: Counter;
  private readonly stored: Counter;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    metrics: MetricsService,
  ) {
    this.statements = new Counter({
      name: 'firebreak_alert_intake_statements_total',
      help: 'Statements that stored webhook deliveries (group commit: several deliveries each)',
      registers: [metrics.registry],
    });
    this.stored = new Counter({
      name: 'firebreak_alert_intake_deliveries_total',
      help: 'Webhook deliveries stored (answered 202)',
      registers: [metrics.registry],
    });
  }

  /** The delivery's id (a redelivery of one source event id: the first delivery's). */
  store(integration: IntegrationEntity, batch: AlertBatch, req: Request): Promise<string> {
    const row: Row = {
      integrationId: integration.id,
      groupKey: batch.groupKey,
      alerts: JSON.stringify(batch.alerts),
      eventId: batch.eventId ?? null,
      requestId: ((req as FirebreakRequest).id ?? null)?.slice(0, 64) ?? null,
      sourceIp: req.ip?.slice(0, 64) ?? null,
      truncated: batch.truncated,
    };
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  /**
   * Whether webhook requests are arriving faster than this process stores them (a statement
   * took SATURATED_BATCH deliveries or more within SATURATED_FOR_MS): AlertProcessor then leaves
   * this process's CPU to them (alert-processor.ts, `yieldToIntake`).
   */
  saturated(): boolean {
    return Date.now() - this.saturatedAt < SATURATED_FOR_MS;
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length) {
      const batch = this.queue.splice(0, MAX_BATCH);
      if (batch.length >= SATURATED_BATCH) this.saturatedAt = Date.now();
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    let ids: string[];
    try {
      ids = await this.insert(batch.map((w) => w.row));
      this.statements.inc();
      this.stored.inc(batch.length);
    } catch (err) {
      if (batch.length === 1) return batch[0].reject(err);
      // One bad delivery must not fail the others: each on its own.
      await Promise.all(batch.map((w) => this.flush([w])));
      return;
    }
    batch.forEach((w, i) => w.resolve(ids[i]));
  }

  /**
   * One statement: the rows inserted in the order given (ids from the sequence in arrival order),
   * a redelivery of a stored event id inserting nothing (it answers the first delivery's id), and
   * one NOTIFY when anything was inserted. A prepared statement (parsed and planned once per
   * connection: that was about two thirds of its Postgres CPU at five deliveries a statement).
   * RETURNING gives the inserted rows in the order they were inserted, as every multi-row insert
   * that hands back generated ids relies on (TypeORM's own among them); only a row with an event
   * id can be left out, so the rows are matched to the input by their event ids.
   */
  private async insert(rows: Row[]): Promise<string[]> {
    const col = <K extends keyof Row>(k: K) => rows.map((r) => r[k]);
    const inserted = await queryPrepared<{ id: string; event_id: string | null }>(
      this.dataSource,
      'firebreak_alert_intake_v2',
      `WITH d AS (
         INSERT INTO "alert_deliveries" ("integration_id", "state", "group_key", "alerts",
           "event_id", "request_id", "source_ip", "truncated")
         SELECT x."integration_id", 'received', x."group_key", x."alerts"::jsonb, x."event_id",
                x."request_id", x."source_ip", x."truncated"
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::int[]) WITH ORDINALITY
             AS x("integration_id", "group_key", "alerts", "event_id", "request_id", "source_ip",
                  "truncated", "ord")
          ORDER BY x."ord"
         ON CONFLICT ("integration_id", "event_id") WHERE "event_id" IS NOT NULL DO NOTHING
         RETURNING "id", "event_id"),
       n AS (SELECT pg_notify($8, json_build_object('id', max("id")::text)::text) AS sent
               FROM d HAVING count(*) > 0)
       SELECT d."id"::text AS id, d."event_id", (SELECT count(*) FROM n) AS notified FROM d`,
      [
        col('integrationId'),
        col('groupKey'),
        col('alerts'),
        col('eventId'),
        col('requestId'),
        col('sourceIp'),
        col('truncated'),
        ALERT_CHANNEL,
      ],
    );
    // The returned rows in input order; a row not among them is a redelivery (its event id was
    // stored before, or earlier in this statement: only the first of an event id is returned).
    const ids: string[] = [];
    let k = 0;
    for (const r of rows) {
      if (inserted[k] && inserted[k].event_id === r.eventId) {
        ids.push(inserted[k++].id);
        continue;
      }
      const [earlier] = await this.dataSource.query<Array<{ id: string }>>(
        `SELECT "id"::text AS id FROM "alert_deliveries" WHERE "integration_id" = $1 AND "event_id" = $2`,
        [r.integrationId, r.eventId],
      );
      ids.push(earlier.id);
    }
    return ids;
  }
}
