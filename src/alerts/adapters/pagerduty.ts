import { z } from 'zod';
import type { InternalAlert } from '../alert.js';
import { compact, isoOrNull, isoTime, problemsOf, text, url, type SourceResult } from './common.js';

/**
 * PagerDuty V3 webhooks (developer.pagerduty.com/docs/webhooks/overview): one event per
 * delivery, `event.data` an incident for most `incident.*` events; for `incident.annotated`,
 * `incident.responder.*` and `incident.status_update_published` it is another object whose
 * `incident` is a reference (id, summary, html_url: no status).
 */
const name = text.pipe(z.string().max(1024));
const reference = z.looseObject({
  id: text.pipe(z.string().min(1).max(64)),
  summary: name.nullable().optional(),
  html_url: url.nullable().optional(),
});

const incidentSchema = z.looseObject({
  id: text.pipe(z.string().min(1).max(64)),
  type: z.literal('incident'),
  number: z.number().int().optional(),
  status: z.enum(['triggered', 'acknowledged', 'resolved']),
  title: name,
  html_url: url.nullable().optional(),
  incident_key: name.nullable().optional(),
  created_at: isoTime.optional(),
  service: reference.nullable().optional(),
  priority: reference.nullable().optional(),
  urgency: z.enum(['high', 'low']).optional(),
});

const eventSchema = z.looseObject({
  event: z.looseObject({
    id: text.pipe(z.string().min(1).max(128)),
    event_type: text.pipe(z.string().min(1).max(128)),
    resource_type: z.string(),
    occurred_at: isoTime,
    data: z.looseObject({}),
  }),
});

/** Events whose data holds an incident reference only: understood, but they change no status. */
const NESTED = z.looseObject({ incident: reference });

/**
 * A PagerDuty V3 event as one internal alert: the incident is the alert (fingerprint
 * `pagerduty:<incident id>`, its own group), `resolved` when the incident is, else `firing`
 * (triggered, acknowledged, reopened, escalated, …). Labels: `alertname` (the title), `service`,
 * `service_id`, `priority` (P1…), `urgency`, `incident_number`. The event id makes a replayed
 * delivery a no-op. Non-incident events and note-like ones (a reference, no status) are ignored.
 */
export function adaptPagerDuty(body: unknown): SourceResult {
  const parsed = eventSchema.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const e = parsed.data.event;
  if (!e.event_type.startsWith('incident.'))
    return { ok: true, batch: null, ignored: `${e.event_type} is not an incident event` };
  if (e.data.type !== 'incident') {
    const nested = NESTED.safeParse(e.data);
    if (!nested.success)
      return {
        ok: false,
        problems: problemsOf(nested.error).map((p) => ({ ...p, path: `event.data.${p.path}` })),
      };
    return {
      ok: true,
      batch: null,
      ignored: `${e.event_type} on incident ${nested.data.incident.id} carries no incident status`,
    };
  }
  const inc = incidentSchema.safeParse(e.data);
  if (!inc.success)
    return {
      ok: false,
      problems: problemsOf(inc.error).map((p) => ({ ...p, path: `event.data.${p.path}` })),
    };
  const i = inc.data;
  const resolved = i.status === 'resolved' || e.event_type === 'incident.resolved';
  const groupKey = `pagerduty:${i.id}`;
  const alert: InternalAlert = {
    source: 'pagerduty',
    fingerprint: groupKey,
    status: resolved ? 'resolved' : 'firing',
    labels: compact({
      alertname: i.title,
      service: i.service?.summary,
      service_id: i.service?.id,
      priority: i.priority?.summary,
      urgency: i.urgency,
      incident_number: i.number === undefined ? undefined : String(i.number),
    }),
    annotations: compact({
      summary: i.title,
      pagerduty_event: e.event_type,
      pagerduty_status: i.status,
      incident_key: i.incident_key,
    }),
    startsAt: isoOrNull(i.created_at ?? e.occurred_at),
    endsAt: resolved ? isoOrNull(e.occurred_at) : null,
    generatorURL: i.html_url || null,
    groupKey,
  };
  return { ok: true, batch: { groupKey, alerts: [alert], truncated: 0, eventId: e.id } };
}
