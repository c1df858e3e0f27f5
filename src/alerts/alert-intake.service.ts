import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request } from 'express';
import type { FirebreakRequest } from '../common/request-context.js';
import { DataSource } from 'typeorm';
import type { AlertBatch } from './alert.js';
import type { IntegrationEntity } from './integration.entity.js';

/** Wakes AlertProcessor in every process (Postgres NOTIFY, sent when the delivery commits). */
export const ALERT_CHANNEL = 'firebreak_alert';

/**
 * Stores a delivery (`received`) and wakes the processors: one statement (the INSERT and its
 * NOTIFY, committed together). Its `alert.received` audit entry, with this request's id and
 * source address, is written by AlertProcessor before the delivery is processed (batched, so
 * webhook requests never queue on the audit chain's lock).
 */
@Injectable()
export class AlertIntakeService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async store(integration: IntegrationEntity, batch: AlertBatch, req: Request): Promise<string> {
    // A redelivery of one source event (same event id) is that delivery, nothing new: the
    // INSERT does nothing, so no row comes back and no NOTIFY is sent.
    const [inserted] = await this.dataSource.query<Array<{ id: string }>>(
      `WITH d AS (
         INSERT INTO "alert_deliveries" ("integration_id", "state", "group_key", "alerts",
           "event_id", "request_id", "source_ip", "truncated")
         VALUES ($1, 'received', $2, $3::jsonb, $4, $5, $6, $7)
         ON CONFLICT ("integration_id", "event_id") WHERE "event_id" IS NOT NULL DO NOTHING
         RETURNING "id"::text AS id)
       SELECT d.id, pg_notify($8, json_build_object('id', d.id)::text) FROM d`,
      [
        integration.id,
        batch.groupKey,
        JSON.stringify(batch.alerts),
        batch.eventId ?? null,
        ((req as FirebreakRequest).id ?? null)?.slice(0, 64) ?? null,
        req.ip?.slice(0, 64) ?? null,
        batch.truncated,
        ALERT_CHANNEL,
      ],
    );
    if (inserted) return inserted.id;
    const [earlier] = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT "id"::text AS id FROM "alert_deliveries" WHERE "integration_id" = $1 AND "event_id" = $2`,
      [integration.id, batch.eventId],
    );
    return earlier.id;
  }
}
