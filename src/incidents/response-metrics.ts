import { SEVERITIES, STATUSES, type IncidentStatus, type Severity } from './incident-rules.js';

/** The times an incident first reached each stage. */
export interface IncidentTimes {
  severity: Severity;
  status: IncidentStatus;
  declaredAt: Date;
  acknowledgedAt: Date | null;
  mitigatedAt: Date | null;
  resolvedAt: Date | null;
}

export interface SeverityMetrics {
  severity: Severity;
  count: number;
  /** Mean time to acknowledge: first left `triggered` − declared, in seconds. */
  mttaSeconds: number | null;
  /** Mean time to mitigate: first reached `monitoring` − declared, in seconds. */
  mttmSeconds: number | null;
  /** Mean time to resolve: resolved − declared, in seconds. */
  mttrSeconds: number | null;
  byStatus: Record<IncidentStatus, number>;
}

export interface ResponseMetrics {
  from: Date | null;
  to: Date | null;
  total: number;
  byStatus: Record<IncidentStatus, number>;
  bySeverity: SeverityMetrics[];
}

/** Seconds between two instants, or null when the later one has not happened. */
export function secondsBetween(from: Date, to: Date | null): number | null {
  return to ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : null;
}

const mean = (xs: Array<number | null>): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 1000) / 1000 : null;
};

const zeroStatuses = () =>
  Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<IncidentStatus, number>;

/**
 * MTTA, MTTM and MTTR per severity for the incidents declared within [from, to); each mean is
 * over the incidents that reached that stage (null when none did). Counts are by current status.
 */
export function responseMetrics(
  incidents: readonly IncidentTimes[],
  window: { from?: Date | null; to?: Date | null } = {},
): ResponseMetrics {
  const from = window.from ?? null;
  const to = window.to ?? null;
  const inWindow = incidents.filter(
    (i) => (!from || i.declaredAt >= from) && (!to || i.declaredAt < to),
  );
  const byStatus = zeroStatuses();
  for (const i of inWindow) byStatus[i.status]++;
  const bySeverity = SEVERITIES.map((severity): SeverityMetrics => {
    const group = inWindow.filter((i) => i.severity === severity);
    const counts = zeroStatuses();
    for (const i of group) counts[i.status]++;
    return {
      severity,
      count: group.length,
      mttaSeconds: mean(group.map((i) => secondsBetween(i.declaredAt, i.acknowledgedAt))),
      mttmSeconds: mean(group.map((i) => secondsBetween(i.declaredAt, i.mitigatedAt))),
      mttrSeconds: mean(group.map((i) => secondsBetween(i.declaredAt, i.resolvedAt))),
      byStatus: counts,
    };
  });
  return { from, to, total: inWindow.length, byStatus, bySeverity };
}
