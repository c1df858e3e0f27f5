import { z } from 'zod';
import type { InternalAlert } from '../alert.js';
import {
  compact,
  isoOrNull,
  isoTime,
  labelMap,
  problemsOf,
  text,
  url,
  type SourceResult,
} from './common.js';

/**
 * Grafana unified alerting's webhook payload (grafana.com/docs/grafana/latest/alerting/
 * configure-notifications/manage-contact-points/integrations/webhook-notifier). Alertmanager's
 * shape plus Grafana's fields; unknown fields are ignored. The top-level `status` is `firing`
 * while any alert fires: each alert's own `status` is what counts.
 */
const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: labelMap,
  annotations: labelMap.optional(),
  startsAt: isoTime.optional(),
  endsAt: isoTime.optional(),
  generatorURL: url.optional(),
  fingerprint: text.pipe(z.string().min(1).max(128)),
  silenceURL: url.optional(),
  dashboardURL: url.optional(),
  panelURL: url.optional(),
  imageURL: url.optional(),
  values: z.record(z.string(), z.unknown()).nullable().optional(),
  valueString: text.pipe(z.string().max(8192)).optional(),
});

export const grafanaPayloadSchema = z.looseObject({
  receiver: z.string().optional(),
  status: z.enum(['firing', 'resolved']),
  orgId: z.number().int().optional(),
  alerts: z.array(alertSchema).max(10_000),
  groupLabels: labelMap.optional(),
  commonLabels: labelMap.optional(),
  commonAnnotations: labelMap.optional(),
  externalURL: z.string().optional(),
  version: z.string().optional(),
  groupKey: text.pipe(z.string().min(1).max(4096)),
  truncatedAlerts: z.number().int().min(0).optional(),
});

/**
 * A Grafana webhook body as internal alerts: pure. Grafana's links (silence, dashboard, panel,
 * image) and the values that fired become annotations (`grafana_silence_url`, …, `values`,
 * `value_string`), so the responder sees them; labels are the alert's own, untouched.
 */
export function adaptGrafana(body: unknown): SourceResult {
  const parsed = grafanaPayloadSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const p = parsed.data;
  const alerts: InternalAlert[] = p.alerts.map((a) => ({
    source: 'grafana',
    fingerprint: a.fingerprint,
    status: a.status,
    labels: { ...a.labels },
    annotations: {
      ...(a.annotations ?? {}),
      ...compact({
        grafana_silence_url: a.silenceURL,
        grafana_dashboard_url: a.dashboardURL,
        grafana_panel_url: a.panelURL,
        grafana_image_url: a.imageURL,
        grafana_org_id: p.orgId === undefined ? undefined : String(p.orgId),
        values: a.values && Object.keys(a.values).length ? JSON.stringify(a.values) : undefined,
        value_string: a.valueString,
      }),
    },
    startsAt: isoOrNull(a.startsAt),
    endsAt: isoOrNull(a.endsAt),
    generatorURL: a.generatorURL || null,
    groupKey: p.groupKey,
  }));
  return { ok: true, batch: { groupKey: p.groupKey, alerts, truncated: p.truncatedAlerts ?? 0 } };
}
