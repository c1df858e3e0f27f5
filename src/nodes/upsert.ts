import type { DeepPartial, EntityManager, EntityTarget, QueryDeepPartialEntity } from 'typeorm';
import { DomainException } from '../common/errors.js';
import { changes, stripUndefined } from './node-records.js';

/**
 * Writing named records (nodes, clusters, credentials) in the caller's transaction: one insert
 * for the API, one create-or-update for the inventory file sync and the Ansible import.
 */

/**
 * Inserts a record whose name must be new and returns its id; when the name is taken, nothing
 * is written and it is a 409 (`node "x" already exists`).
 */
export async function insertNew<T extends { id: string; name: string }>(
  m: EntityManager,
  entity: EntityTarget<T>,
  kind: 'node' | 'cluster' | 'credential',
  values: QueryDeepPartialEntity<T> & { name: string },
): Promise<string> {
  const inserted = await m
    .createQueryBuilder()
    .insert()
    .into(entity)
    .values(values)
    .orIgnore()
    .returning('id')
    .execute();
  if (inserted.raw.length === 0) {
    throw new DomainException('CONFLICT', `${kind} "${values.name}" already exists`, {
      name: values.name,
    });
  }
  return (inserted.raw as Array<{ id: string }>)[0].id;
}

export type Upserted<T> =
  | { outcome: 'created'; row: T }
  | { outcome: 'updated'; row: T; changed: Record<string, unknown> }
  | { outcome: 'unchanged'; row: T };

/**
 * Creates the named record with `fields` when there is none (`current`, read and locked by the
 * caller), else sets `update` on it (undefined values leave a field as it is) and saves it when
 * that changes something. Says which, with the changes for the audit entry.
 */
export async function upsertByName<T extends { id: string; name: string }, F extends Partial<T>>(
  m: EntityManager,
  entity: EntityTarget<T>,
  name: string,
  current: T | undefined,
  fields: F,
  update: Partial<F> = fields,
): Promise<Upserted<T>> {
  if (!current) {
    const row = await m.save(m.create(entity, { name, ...fields } as unknown as DeepPartial<T>));
    return { outcome: 'created', row };
  }
  const changed = changes(current, update as Partial<T>);
  if (Object.keys(changed).length === 0) return { outcome: 'unchanged', row: current };
  Object.assign(current, stripUndefined(update));
  await m.save(current);
  return { outcome: 'updated', row: current, changed };
}
