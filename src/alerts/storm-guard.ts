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

/** What `countEach` counted: the window, and how many of each `n` are within the limit. */
export interface CountedEach {
  windowStart: Date;
  /** Per `n`, in order: how many of it are within the limit (the rest are held back). */
  allowed: number[];
  /** The window's incident (ingest scope), if one was told of it already. */
  incidentId: string | null;
}

/**
 * Counts the `ns` into the current window of `scope`, in order, as if one at a time: one atomic
 * upsert of their sum, in the caller's transaction, so every process shares the count and a
 * rolled-back step counts nothing. `integrationId`: the integration an `ingest:` row belongs to
 * (null for `run:` rows). Each `n` is allowed whole when the window was under the limit before
 * it (a delivery is processed whole or held back whole), else none of it; every `n` counts.
 */
export async function countEach(
  m: EntityManager,
  integrationId: string | null,
  scope: string,
  limit: RateLimit,
  ns: number[],
): Promise<CountedEach> {
  const total = ns.reduce((a, b) => a + b, 0);
  const [row] = await m.query<
    Array<{ count: number; window_start: Date; incident_id: string | null }>
  >(
    `INSERT INTO "alert_rate_windows" ("integration_id", "scope", "window_start", "count")
     VALUES ($1, $2, to_timestamp(floor(extract(epoch FROM now()) / $3) * $3), $4)
     ON CONFLICT ("scope", "window_start")
       DO UPDATE SET "count" = "alert_rate_windows"."count" + EXCLUDED."count"
     RETURNING "count", "window_start", "incident_id"`,
    [integrationId, scope, limit.windowSeconds, total],
  );
  let before = row.count - total;
  const allowed = ns.map((n) => {
    const ok = before < limit.max ? n : 0;
    before += n;
    return ok;
  });
  const suppressed = total - allowed.reduce((a, b) => a + b, 0);
  if (suppressed > 0)
    await m.query(
      `UPDATE "alert_rate_windows" SET "suppressed" = "suppressed" + $3
        WHERE "scope" = $1 AND "window_start" = $2`,
      [scope, row.window_start, suppressed],
    );
  return { windowStart: new Date(row.window_start), allowed, incidentId: row.incident_id };
}

/** Counts one `n` (countEach of one). */
export async function count(
  m: EntityManager,
  integrationId: string | null,
  scope: string,
  limit: RateLimit,
  n: number,
): Promise<Counted> {
  const c = await countEach(m, integrationId, scope, limit, [n]);
  return { windowStart: c.windowStart, allowed: c.allowed[0], incidentId: c.incidentId };
}

/** "3 per 10 min", "300 per 5 min", "5 per 90 s". */
export function describeLimit(l: RateLimit, what: string): string {
  const w = l.windowSeconds;
  const span = w % 3600 === 0 ? `${w / 3600} h` : w % 60 === 0 ? `${w / 60} min` : `${w} s`;
  return `${l.max} ${what} per ${span}`;
}
