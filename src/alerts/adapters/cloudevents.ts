import { createHash } from 'node:crypto';
import { z } from 'zod';
import { storableText } from '../../common/storable.js';
import type { InternalAlert } from '../alert.js';
import {
  compact,
  isoOrNull,
  labelsFingerprint,
  problemsOf,
  text,
  type SourceResult,
} from './common.js';

/**
 * CloudEvents 1.0 (github.com/cloudevents/spec, v1.0.2): the required context attributes, the
 * optional ones Firebreak reads, and extension attributes (lower-case a-z0-9 names). Structured
 * mode: the whole event is the JSON body (`application/cloudevents+json`); binary mode: the
 * attributes are `ce-*` headers and the body is the data.
 */
const attr = text.pipe(z.string().min(1).max(1024));
const contextSchema = z.looseObject({
  specversion: z.literal('1.0'),
  id: attr,
  source: attr,
  type: attr,
  subject: attr.optional(),
  time: z.iso.datetime({ offset: true, local: false }).optional(),
  datacontenttype: attr.optional(),
  /** A UUID in Keptn; bounded, since it becomes the alert's fingerprint (≤ 128 characters). */
  shkeptncontext: text.pipe(z.string().min(1).max(100)).optional(),
});

const stringMap = z
  .record(z.string(), z.unknown())
  .transform((r) =>
    Object.fromEntries(
      Object.entries(r).filter(
        (e): e is [string, string] =>
          typeof e[1] === 'string' && storableText(e[0]) && storableText(e[1]),
      ),
    ),
  );

/** What Firebreak reads from an event's data when it is a JSON object (Keptn's shape, loosely). */
const dataSchema = z.looseObject({
  project: attr.optional(),
  stage: attr.optional(),
  service: attr.optional(),
  labels: stringMap.nullable().optional(),
  status: text.optional(),
  result: text.optional(),
  message: text.pipe(z.string().max(8192)).optional(),
  problem: z
    .looseObject({
      State: text.optional(),
      ProblemID: text.optional(),
      ProblemTitle: attr.optional(),
      PID: text.optional(),
      ProblemURL: attr.optional(),
      ImpactedEntity: attr.optional(),
    })
    .nullable()
    .optional(),
});

export interface CloudEventInput {
  mode: 'structured' | 'binary';
  /** Request headers, lower-case names (binary mode reads `ce-*`). */
  headers: Record<string, string | string[] | undefined>;
  /** Structured: the parsed event. Binary: the parsed data when JSON, else undefined. */
  body: unknown;
}

/** Binary mode's attributes: each `ce-<name>` header is the attribute `<name>`. */
function binaryEvent(input: CloudEventInput): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.headers))
    if (k.startsWith('ce-') && typeof v === 'string') event[k.slice(3)] = v;
  const ct = input.headers['content-type'];
  if (typeof ct === 'string') event.datacontenttype = ct;
  event.data = input.body;
  return event;
}

const RESOLVING = new Set(['resolved', 'finished', 'closed']);

/**
 * A CloudEvent as one internal alert: pure. `resolved` when the type's last segment is
 * resolved/finished/closed or the data's `problem.State` is CLOSED/RESOLVED, else `firing`.
 * Fingerprint and group: the Keptn context (`shkeptncontext`: triggered and finished events of
 * one remediation share it) when present, else the source and subject. Labels: `alertname`
 * (problem title, else the type), `ce_type`, `ce_source`, `ce_subject`, Keptn's `project`,
 * `stage`, `service`, `impacted_entity`, then the data's own `labels`. Idempotent on source + id.
 */
export function adaptCloudEvent(input: CloudEventInput): SourceResult {
  const raw = input.mode === 'structured' ? input.body : binaryEvent(input);
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = problemsOf(parsed.error);
    return {
      ok: false,
      problems:
        input.mode === 'binary'
          ? problems.map((p) => ({
              ...p,
              path: p.path === 'body' ? p.path : `header ce-${p.path}`,
            }))
          : problems,
    };
  }
  const ce = parsed.data;
  const rawData = (raw as { data?: unknown }).data;
  let data: z.infer<typeof dataSchema> = {};
  if (rawData && typeof rawData === 'object' && !Array.isArray(rawData)) {
    const d = dataSchema.safeParse(rawData);
    if (!d.success)
      return {
        ok: false,
        problems: problemsOf(d.error).map((p) => ({
          ...p,
          path: input.mode === 'binary' ? `body.${p.path}` : `data.${p.path}`,
        })),
      };
    data = d.data;
  }
  const problem = data.problem ?? undefined;
  const last = ce.type.split('.').pop() ?? '';
  const state = problem?.State?.toUpperCase();
  const resolved = RESOLVING.has(last) || state === 'CLOSED' || state === 'RESOLVED';
  const identity = compact({
    alertname: problem?.ProblemTitle ?? ce.type,
    project: data.project,
    stage: data.stage,
    service: data.service,
    impacted_entity: problem?.ImpactedEntity,
    ...(data.labels ?? {}),
    ce_source: ce.source,
    ce_subject: ce.subject,
  });
  const key = ce.shkeptncontext ? `keptn:${ce.shkeptncontext}` : null;
  const groupKey = `cloudevents:${key ?? `${ce.source}${ce.subject ? `/${ce.subject}` : ''}`}`;
  const alert: InternalAlert = {
    source: 'cloudevents',
    fingerprint: key ?? labelsFingerprint(identity),
    status: resolved ? 'resolved' : 'firing',
    labels: { ...identity, ce_type: ce.type },
    annotations: compact({
      summary: problem?.ProblemTitle ?? ce.subject ?? ce.type,
      description: data.message,
      keptn_status: data.status,
      keptn_result: data.result,
      problem_id: problem?.ProblemID,
    }),
    startsAt: isoOrNull(ce.time),
    endsAt: resolved ? isoOrNull(ce.time) : null,
    generatorURL: problem?.ProblemURL ?? null,
    groupKey,
  };
  const eventId = `ce:${createHash('sha256').update(`${ce.source}\u0000${ce.id}`).digest('hex').slice(0, 40)}`;
  return { ok: true, batch: { groupKey, alerts: [alert], truncated: 0, eventId } };
}
