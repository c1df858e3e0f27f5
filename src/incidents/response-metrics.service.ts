import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../observability/metrics.service.js';
import { SEVERITIES } from './incident-rules.js';
import { IncidentEntity } from './incident.entity.js';
import { responseMetrics, secondsBetween, type ResponseMetrics } from './response-metrics.js';

type TimeField = 'acknowledgedAt' | 'identifiedAt' | 'mitigatedAt' | 'resolvedAt';

/**
 * Response metrics: MTTA, MTTM and MTTR for a window (the API), and for Prometheus the open
 * incidents by severity (read at scrape time) and histograms of the time to each stage.
 */
@Injectable()
export class ResponseMetricsService {
  private readonly durations: Record<
    'acknowledgedAt' | 'mitigatedAt' | 'resolvedAt',
    Histogram<'severity'>
  >;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
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

  /** MTTA, MTTM and MTTR per severity and counts by status, for incidents declared in [from, to). */
  async forWindow(from?: Date, to?: Date): Promise<ResponseMetrics> {
    const qb = this.dataSource.getRepository(IncidentEntity).createQueryBuilder('i');
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

  /** After a committed status move: the time to each stage the incident reached for the first time. */
  observeReached(incident: IncidentEntity, reached: readonly TimeField[]): void {
    for (const f of reached) {
      if (f === 'identifiedAt') continue;
      const s = secondsBetween(incident.createdAt, incident[f]);
      if (s !== null) this.durations[f].observe({ severity: incident.severity }, s);
    }
  }
}
