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
      const [{ id }] = await m.query<Array<{ id: string }>>(
        `INSERT INTO "alert_deliveries" ("integration_id", "state", "group_key", "alerts")
         VALUES ($1, 'received', $2, $3::jsonb) RETURNING "id"::text AS id`,
        [integration.id, batch.groupKey, JSON.stringify(batch.alerts)],
      );
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
