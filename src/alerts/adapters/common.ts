import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FieldProblem } from '../../common/errors.js';
import { fieldPath, storableText, UNSTORABLE_MESSAGE } from '../../common/storable.js';
import type { AlertBatch } from '../alert.js';

/** Text Postgres can store (no NUL, no unpaired surrogate): a 400 naming the field, never a 500. */
export const text = z.string().refine(storableText, UNSTORABLE_MESSAGE);
export const labelMap = z.record(text.pipe(z.string().max(256)), text.pipe(z.string().max(4096)));
export const isoTime = z.iso.datetime({ offset: true, local: false });
export const url = text.pipe(z.string().max(4096));

/**
 * What an adapter makes of a body: alerts, or nothing to do (a source's event that is not about
 * an alert, e.g. PagerDuty's `service.updated`: acknowledged, not stored), or the problems by
 * field path (stored as rejected, answered 400).
 */
export type SourceResult =
  | { ok: true; batch: AlertBatch }
  | { ok: true; batch: null; ignored: string }
  | { ok: false; problems: FieldProblem[] };

/** Zod's issues by field path; an unknown field is named itself (`alerts[0].lables`). */
export const problemsOf = (error: z.ZodError): FieldProblem[] =>
  error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: fieldPath([...i.path, k]), message: 'unknown field' }))
      : [{ path: fieldPath(i.path), message: i.message }],
  );

/** A source's "no end time" (Go's zero time.Time), empty, or anything before 1970 → null. */
export function isoOrNull(t: string | null | undefined): string | null {
  if (!t) return null;
  const ms = new Date(t).getTime();
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

/**
 * The fingerprint of an alert whose source sends none: SHA-256 over its labels sorted by name
 * (so the order they arrive in does not matter), 32 hex digits.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0000`);
  return h.digest('hex').slice(0, 32);
}

/** Only non-empty string values: a label set without holes. */
export function compact(
  entries: Record<string, string | null | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (typeof v === 'string' && v !== '') out[k] = v;
  return out;
}
