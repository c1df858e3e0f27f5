import type { EntityManager } from 'typeorm';
import { notFound } from '../common/errors.js';
import { IncidentEntity } from './incident.entity.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REF_RE = /^INC-(\d{1,9})$/i;

/** An incident by `INC-42` or uuid (optionally locked for update); 404 otherwise. */
export async function findIncident(
  m: EntityManager,
  ref: string,
  lock = false,
): Promise<IncidentEntity> {
  const num = REF_RE.exec(ref)?.[1];
  const where = num ? { number: Number(num) } : UUID_RE.test(ref) ? { id: ref } : null;
  const incident = where
    ? await m.findOne(IncidentEntity, {
        where,
        ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
      })
    : null;
  if (!incident) throw notFound('Incident', ref);
  return incident;
}
