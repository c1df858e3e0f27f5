import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Request } from 'express';
import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { auditContextOf } from '../audit/request-audit.js';
import type { FieldProblem } from '../common/errors.js';
import type { FirebreakRequest } from '../common/request-context.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { IntegrationEntity } from './integration.entity.js';

/** Kept of a rejected body: enough to see what the source sent, bounded. */
const KEPT_BYTES = 64 * 1024;

export type RejectionReason = 'unauthenticated' | 'invalid_payload';

/**
 * Hook requests that did not become alerts, never silently: a body the adapter did not
 * understand is stored (a `rejected` delivery with its problems and the bytes received) and
 * audited; failed authentication is audited (no detail to the caller); both are counted in
 * `firebreak_alert_hook_rejected_total{source,reason}`.
 */
@Injectable()
export class HookRejections {
  private readonly counter: Counter<'source' | 'reason'>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    metrics: MetricsService,
  ) {
    this.counter = new Counter({
      name: 'firebreak_alert_hook_rejected_total',
      help: 'Alert webhook requests refused, by source type and reason (unauthenticated, invalid_payload)',
      labelNames: ['source', 'reason'],
      registers: [metrics.registry],
    });
  }

  async unauthenticated(integration: IntegrationEntity, reason: string, req: Request) {
    this.counter.inc({ source: integration.type, reason: 'unauthenticated' });
    await this.audit.record(auditContextOf(req), {
      action: 'alert.unauthenticated',
      outcome: 'denied',
      subjectType: 'Integration',
      subjectId: integration.id,
      details: { integration: integration.name, reason },
    });
  }

  /** An event understood but not about an alert (PagerDuty `service.updated`): audited only. */
  async ignored(integration: IntegrationEntity, reason: string, req: Request) {
    await this.audit.record(this.identity(integration, req), {
      action: 'alert.ignored',
      subjectType: 'Integration',
      subjectId: integration.id,
      details: { reason },
    });
  }

  private identity(integration: IntegrationEntity, req: Request) {
    return {
      actorId: integration.userId,
      actorName: integration.username,
      requestId: (req as FirebreakRequest).id ?? null,
      sourceIp: req.ip ?? null,
    };
  }

  /** Stores the rejected delivery and its audit entry (one transaction); returns its id. */
  async invalid(
    integration: IntegrationEntity,
    raw: Buffer,
    problems: FieldProblem[],
    req: Request,
  ): Promise<string> {
    this.counter.inc({ source: integration.type, reason: 'invalid_payload' });
    return this.dataSource.transaction(async (m) => {
      const [{ id }] = await m.query<Array<{ id: string }>>(
        `INSERT INTO "alert_deliveries" ("integration_id", "state", "group_key", "alerts", "error", "payload", "processed_at", "audited")
         VALUES ($1, 'rejected', '', '[]'::jsonb, $2, $3, now(), true) RETURNING "id"::text AS id`,
        [integration.id, JSON.stringify(problems), raw.subarray(0, KEPT_BYTES)],
      );
      await this.audit.record(
        this.identity(integration, req),
        {
          action: 'alert.rejected',
          outcome: 'failure',
          subjectType: 'Integration',
          subjectId: integration.id,
          details: { delivery: id, bytes: raw.length, problems: problems.slice(0, 20) },
        },
        m,
      );
      return id;
    });
  }
}
