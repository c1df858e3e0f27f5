import { z } from 'zod';
import type { InternalAlert } from '../alert.js';
import {
  isoOrNull,
  isoTime,
  labelMap,
  labelsFingerprint,
  problemsOf,
  text,
  url,
  type SourceResult,
} from './common.js';

/**
 * Firebreak's own alert shape (docs/alerts.md, "Generic JSON"), for sources without an
 * adapter: one alert, a list of alerts, or `{ groupKey?, eventId?, alerts: [...] }`. Unknown
 * fields are refused (strict), so a typo is a 400 naming it rather than a silently lost field.
 */
const link = z.strictObject({ href: url, text: text.pipe(z.string().max(256)).optional() });

export const genericAlertSchema = z.strictObject({
  fingerprint: text.pipe(z.string().min(1).max(128)).optional(),
  status: z.enum(['firing', 'resolved']),
  labels: labelMap.refine((l) => Object.keys(l).length > 0, 'must have at least one label'),
  annotations: labelMap.optional(),
  startsAt: isoTime.optional(),
  endsAt: isoTime.optional(),
  links: z.array(link).max(20).optional(),
});

const alerts = z.array(genericAlertSchema).min(1).max(10_000);

export const genericPayloadSchema = z.union([
  z.strictObject({
    groupKey: text.pipe(z.string().min(1).max(4096)).optional(),
    eventId: text.pipe(z.string().min(1).max(200)).optional(),
    alerts,
  }),
  alerts,
  genericAlertSchema,
]);

/** Labels every alert has, with the same value. */
function commonLabels(list: Array<{ labels: Record<string, string> }>): Record<string, string> {
  const [first, ...rest] = list;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first.labels))
    if (rest.every((a) => a.labels[k] === v)) out[k] = v;
  return out;
}

/**
 * A generic JSON body as internal alerts: pure. No fingerprint → one from the sorted labels;
 * no groupKey → `generic:` + the fingerprint of the labels all alerts share (one alert: its
 * own). The first link is the alert's source link, the others annotations `link_<n>`.
 */
export function adaptGeneric(body: unknown): SourceResult {
  // One schema per form, so the problems name the fields of the form the body is closest to.
  const form = Array.isArray(body)
    ? alerts
    : body && typeof body === 'object' && 'alerts' in body
      ? genericPayloadSchema.options[0]
      : genericAlertSchema;
  const parsed = form.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const p = parsed.data;
  const envelope = Array.isArray(p) ? { alerts: p } : 'alerts' in p ? p : { alerts: [p] };
  const list = envelope.alerts;
  const groupKey =
    ('groupKey' in envelope && envelope.groupKey) ||
    `generic:${labelsFingerprint(commonLabels(list))}`;
  const out: InternalAlert[] = list.map((a) => {
    const annotations = { ...(a.annotations ?? {}) };
    (a.links ?? []).slice(1).forEach((l, i) => {
      annotations[`link_${i + 1}`] = l.text ? `${l.text} ${l.href}` : l.href;
    });
    return {
      source: 'generic',
      fingerprint: a.fingerprint ?? labelsFingerprint(a.labels),
      status: a.status,
      labels: { ...a.labels },
      annotations,
      startsAt: isoOrNull(a.startsAt),
      endsAt: isoOrNull(a.endsAt),
      generatorURL: a.links?.[0]?.href ?? null,
      groupKey,
    };
  });
  const eventId = 'eventId' in envelope ? envelope.eventId : undefined;
  return {
    ok: true,
    batch: { groupKey, alerts: out, truncated: 0, ...(eventId ? { eventId } : {}) },
  };
}
