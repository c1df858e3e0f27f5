import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';

export { canonicalJson };

/** The hash a chain starts from. */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  id: string;
  at: Date;
  actorId: string | null;
  actorName: string;
  action: string;
  outcome: string;
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
  sourceIp: string | null;
}

export function canonicalEntry(e: ChainedFields): string {
  return canonicalJson({
    id: String(e.id),
    at: e.at.toISOString(),
    actorId: e.actorId,
    actorName: e.actorName,
    action: e.action,
    outcome: e.outcome,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    details: e.details,
    requestId: e.requestId,
    sourceIp: e.sourceIp,
  });
}

export function chainHash(prevHash: string, e: ChainedFields): string {
  return createHash('sha256').update(prevHash).update(canonicalEntry(e)).digest('hex');
}

export type ChainBreak = { id: string; reason: string };

/**
 * Checks a run of consecutive entries against the hash before them. Returns the first entry that
 * does not match, or the hash to continue from.
 */
export function verifySegment(
  prevHash: string,
  entries: Array<ChainedFields & { prevHash: string; hash: string }>,
): { ok: true; lastHash: string } | { ok: false; broken: ChainBreak } {
  let expectedPrev = prevHash;
  for (const e of entries) {
    if (e.prevHash !== expectedPrev) {
      return {
        ok: false,
        broken: {
          id: String(e.id),
          reason:
            'prev_hash does not match the hash of the entry before it (an entry was removed or reordered)',
        },
      };
    }
    const recomputed = chainHash(e.prevHash, e);
    if (recomputed !== e.hash) {
      return {
        ok: false,
        broken: {
          id: String(e.id),
          reason: 'content does not match its hash (the entry was altered)',
        },
      };
    }
    expectedPrev = e.hash;
  }
  return { ok: true, lastHash: expectedPrev };
}

/** Keys whose values are secrets: `password`, `newPassword`, `token`, `accessToken`, `apiKey`… but not `tokenId`. */
const SECRET_KEY_RE =
  /(password|passphrase|passwd|secret|token|api[-_]?key|private[-_]?key|authorization|cookie)$/i;

/**
 * Masks secrets before anything is written to the audit log: values under secret-looking keys,
 * and any string listed in `secretValues` (e.g. secure runbook options) wherever it appears.
 */
export function maskSecrets(
  value: unknown,
  secretValues: readonly string[] = [],
  key = '',
): unknown {
  if (key && SECRET_KEY_RE.test(key) && value !== null && value !== undefined && value !== '')
    return '***';
  if (typeof value === 'string') {
    let out = value;
    for (const s of secretValues) if (s) out = out.split(s).join('***');
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, secretValues));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        maskSecrets(v, secretValues, k),
      ]),
    );
  }
  return value;
}
