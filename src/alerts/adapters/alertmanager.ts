import { z } from 'zod';
import type { FieldProblem } from '../../common/errors.js';
import type { AlertBatch, InternalAlert } from '../alert.js';
import { fieldPath } from '../../common/storable.js';
import { isoOrNull, text } from './common.js';

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
    // Alertmanager's "no end time yet" is Go's zero time.Time (year 1): null.
    startsAt: isoOrNull(a.startsAt),
    endsAt: isoOrNull(a.endsAt),
    generatorURL: a.generatorURL || null,
    groupKey: p.groupKey,
  }));
  return { ok: true, batch: { groupKey: p.groupKey, alerts, truncated: p.truncatedAlerts ?? 0 } };
}
