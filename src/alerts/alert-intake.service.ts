import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request } from 'express';
import type { FirebreakRequest } from '../common/request-context.js';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { AlertBatch } from './alert.js';
import type { IntegrationEntity } from './integration.entity.js';

/** Wakes AlertProcessor in every process (Postgres NOTIFY, sent when the delivery commits). */
export const ALERT_CHANNEL = 'firebreak_alert';

/** Stores a delivery (`received`) with its audit entry, and wakes the processors. */
@Injectable()
export class AlertIntakeService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async store(integration: IntegrationEntity, batch: AlertBatch, req: Request): Promise<string> {
    return this.dataSource.transaction(async (m) => {
      // A redelivery of one source event (same event id) is that delivery, nothing new.
      const [inserted] = await m.query<Array<{ id: string }>>(
        `INSERT INTO "alert_deliveries" ("integration_id", "state", "group_key", "alerts", "event_id")
         VALUES ($1, 'received', $2, $3::jsonb, $4)
         ON CONFLICT ("integration_id", "event_id") WHERE "event_id" IS NOT NULL DO NOTHING
         RETURNING "id"::text AS id`,
        [integration.id, batch.groupKey, JSON.stringify(batch.alerts), batch.eventId ?? null],
      );
      if (!inserted) {
        const [earlier] = await m.query<Array<{ id: string }>>(
          `SELECT "id"::text AS id FROM "alert_deliveries" WHERE "integration_id" = $1 AND "event_id" = $2`,
          [integration.id, batch.eventId],
        );
        return earlier.id;
      }
      const { id } = inserted;
      await this.audit.record(
        {
          actorId: integration.userId,
          actorName: integration.username,
          requestId: (req as FirebreakRequest).id ?? null,
          sourceIp: req.ip ?? null,
        },
        {
          action: 'alert.received',
          subjectType: 'Integration',
          subjectId: integration.id,
          details: {
            delivery: id,
            groupKey: batch.groupKey,
            alerts: batch.alerts.length,
            firing: batch.alerts.filter((a) => a.status === 'firing').length,
            truncated: batch.truncated,
          },
        },
        m,
      );
      await m.query('SELECT pg_notify($1, $2)', [ALERT_CHANNEL, JSON.stringify({ id })]);
      return id;
    });
  }
}
