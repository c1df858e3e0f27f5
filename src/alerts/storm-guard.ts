import type { EntityManager } from 'typeorm';
import type { IntegrationSettings, RateLimit } from './integration.entity.js';

/** At most 3 automatic runs of one runbook on one node per 10 minutes, per integration. */
export const DEFAULT_RUN_LIMIT: RateLimit = { max: 3, windowSeconds: 600 };
/** At most 300 alerts per 5 minutes per integration (Grafana OnCall's default). */
export const DEFAULT_INGEST_LIMIT: RateLimit = { max: 300, windowSeconds: 300 };

/** An integration's limits; rows created before the storm guard get the defaults. */
export function limitsOf(s: IntegrationSettings): { runLimit: RateLimit; ingestLimit: RateLimit } {
  return {
    runLimit: s.runLimit ?? DEFAULT_RUN_LIMIT,
    ingestLimit: s.ingestLimit ?? DEFAULT_INGEST_LIMIT,
  };
}

/** Alerts received from one integration. */
export const ingestScope = (integrationId: string) => `ingest:${integrationId}`;
/**
 * Automatic runs of a runbook on a node, whichever integration's alert asked (`*`: the runbook's
 * own targets). Cut to the column's 200 characters.
 */
export const runScope = (runbook: string, node: string | null) =>
  `run:${runbook}:${node ?? '*'}`.slice(0, 200);

export interface Counted {
  /** The fixed window this falls in. */
  windowStart: Date;
  /** How many of the `n` are within the limit (the rest are held back). */
  allowed: number;
  /** The window's incident (ingest scope), if one was told of it already. */
  incidentId: string | null;
}

/**
 * Counts `n` more in the current window of `scope`: one atomic upsert, in the caller's
 * transaction, so every process shares the count and a rolled-back step counts nothing.
 * `integrationId`: the integration an `ingest:` row belongs to (null for `run:` rows).
 * `whole`: all `n` are allowed when the window was under the limit before them (a delivery is
 * processed whole or held back whole), else none.
 */
export async function count(
  m: EntityManager,
  integrationId: string | null,
  scope: string,
  limit: RateLimit,
  n: number,
  whole = false,
): Promise<Counted> {
  const [row] = await m.query<
    Array<{ count: number; window_start: Date; incident_id: string | null }>
  >(
    `INSERT INTO "alert_rate_windows" ("integration_id", "scope", "window_start", "count")
     VALUES ($1, $2, to_timestamp(floor(extract(epoch FROM now()) / $3) * $3), $4)
     ON CONFLICT ("scope", "window_start")
       DO UPDATE SET "count" = "alert_rate_windows"."count" + EXCLUDED."count"
     RETURNING "count", "window_start", "incident_id"`,
    [integrationId, scope, limit.windowSeconds, n],
  );
  const before = row.count - n;
  const allowed = whole
    ? before < limit.max
      ? n
      : 0
    : Math.max(0, Math.min(n, limit.max - before));
  if (allowed < n)
    await m.query(
      `UPDATE "alert_rate_windows" SET "suppressed" = "suppressed" + $3
        WHERE "scope" = $1 AND "window_start" = $2`,
      [scope, row.window_start, n - allowed],
    );
  return { windowStart: new Date(row.window_start), allowed, incidentId: row.incident_id };
}

/** "3 per 10 min", "300 per 5 min", "5 per 90 s". */
export function describeLimit(l: RateLimit, what: string): string {
  const w = l.windowSeconds;
  const span = w % 3600 === 0 ? `${w / 3600} h` : w % 60 === 0 ? `${w / 60} min` : `${w} s`;
  return `${l.max} ${what} per ${span}`;
}
