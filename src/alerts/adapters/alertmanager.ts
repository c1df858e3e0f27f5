import { z } from 'zod';
import type { FieldProblem } from '../../common/errors.js';
import type { AlertBatch, InternalAlert } from '../alert.js';

/** Text Postgres can store (jsonb refuses NUL): a NUL is a 400, never a 500. */
const text = z.string().refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');
const labels = z.record(text, text);
const time = z.iso.datetime({ offset: true, local: false });

/**
 * Alertmanager's webhook payload, version 4 (prometheus.io/docs/alerting/latest/configuration,
 * `<webhook_config>`): the fields Firebreak reads. The rest are ignored, as fields Alertmanager
 * adds within a version are: `receiver`, `externalURL`, and `groupLabels`, `commonLabels` and
 * `commonAnnotations`, which only repeat what is in the alerts (the processor works the
 * incident's common labels out from them). Validating them cost a third of the schema's time
 * on every hook request.
 */
const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.optional(),
  startsAt: time.optional(),
  endsAt: time.optional(),
  generatorURL: text.pipe(z.string().max(4096)).optional(),
  fingerprint: text.pipe(z.string().min(1).max(128)),
});

export const alertmanagerPayloadSchema = z.looseObject({
  version: z.literal('4'),
  groupKey: text.pipe(z.string().min(1).max(4096)),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  alerts: z.array(alertSchema).max(10_000),
});

/** Alertmanager's "no end time yet" (Go's zero time.Time), or anything before 1970. */
const isZeroTime = (t: string | undefined) => !t || new Date(t).getTime() <= 0;

/** `alerts[0].labels.severity` from a zod issue path. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || 'body';
}

export type AdapterResult =
  { ok: true; batch: AlertBatch } | { ok: false; problems: FieldProblem[] };

/**
 * An Alertmanager webhook v4 body as the internal alerts: pure, no I/O. A zero `endsAt` is
 * null; the group's `groupKey` and the source go on every alert.
 */
export function adaptAlertmanager(body: unknown): AdapterResult {
  const parsed = alertmanagerPayloadSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message })),
    };
  }
  const p = parsed.data;
  const alerts: InternalAlert[] = p.alerts.map((a) => ({
    source: 'alertmanager',
    fingerprint: a.fingerprint,
    status: a.status,
    labels: { ...a.labels },
    annotations: { ...(a.annotations ?? {}) },
    startsAt: isZeroTime(a.startsAt) ? null : new Date(a.startsAt!).toISOString(),
    endsAt: isZeroTime(a.endsAt) ? null : new Date(a.endsAt!).toISOString(),
    generatorURL: a.generatorURL || null,
    groupKey: p.groupKey,
  }));
  return { ok: true, batch: { groupKey: p.groupKey, alerts, truncated: p.truncatedAlerts ?? 0 } };
}
