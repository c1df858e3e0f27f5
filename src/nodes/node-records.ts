import { In, type EntityManager, type EntityTarget, type FindOptionsWhere } from 'typeorm';
import type { AuditContext, AuditService } from '../audit/audit.service.js';
import { canonicalJson } from '../common/canonical-json.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { didYouMean } from '../common/suggest.js';
import type { ClusterEntity } from './cluster.entity.js';
import { CredentialEntity } from './credential.entity.js';
import type { NodeEntity } from './node.entity.js';
import { UUID_RE } from './refs.js';

/**
 * What the node, cluster, credential and inventory services share about stored records:
 * the compared fields, change lists, row locks by reference, and audit entries.
 */

/** The fields of a node compared, stored and audited (never a secret among them). */
export type NodeFields = Pick<
  NodeEntity,
  | 'hostname'
  | 'port'
  | 'username'
  | 'tags'
  | 'attributes'
  | 'credentialId'
  | 'hostKeyFingerprint'
  | 'trustOnFirstUse'
  | 'source'
  | 'sourcePath'
  | 'disabled'
  | 'connection'
>;
export type ClusterFields = Pick<
  ClusterEntity,
  'description' | 'filter' | 'nodeNames' | 'source' | 'sourcePath'
>;

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** `{ field: { from, to } }` for the fields that differ. */
export function changes<T extends object>(before: T, after: Partial<T>): Record<string, unknown> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const [k, to] of Object.entries(after)) {
    const from = (before as Record<string, unknown>)[k];
    if (to !== undefined && !same(from, to)) out[k] = { from: from ?? null, to };
  }
  return out;
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function managedByFile(kind: 'node' | 'cluster', name: string, path: string | null) {
  return new DomainException(
    'CONFLICT',
    `${kind} "${name}" comes from ${path ?? 'the inventory file'}: edit the file and sync`,
    { [kind]: name, sourcePath: path },
  );
}

/** The built-in local node belongs to the service (LOCAL_NODE); nobody edits it. */
export function builtinNode(name: string) {
  return new DomainException(
    'CONFLICT',
    `node "${name}" is the built-in local node: it cannot be edited or deleted (set LOCAL_NODE=false to remove it)`,
    { node: name },
  );
}

/** `{ id }` or `{ name }`, as the reference is. */
export function byRef(ref: string): { id: string } | { name: string } {
  return UUID_RE.test(ref) ? { id: ref } : { name: ref };
}

/** Reads and row-locks a node, cluster or credential by id or name, or 404s naming it. */
export async function lockByRef<T extends { id: string; name: string }>(
  m: EntityManager,
  entity: EntityTarget<T>,
  what: string,
  ref: string,
): Promise<T> {
  const where = byRef(ref) as FindOptionsWhere<T>;
  const row = await m.findOne(entity, { where, lock: { mode: 'pessimistic_write' } });
  if (!row) throw notFound(what, ref);
  return row;
}

/** Row-locks nodes or clusters (all of them, or those named) and maps them by name. */
export async function lockAllByName<T extends { name: string }>(
  m: EntityManager,
  entity: EntityTarget<T>,
  names?: string[],
): Promise<Map<string, T>> {
  const where = names ? ({ name: In(names) } as FindOptionsWhere<T>) : undefined;
  const rows = await m.find(entity, { where, lock: { mode: 'pessimistic_write' } });
  return new Map(rows.map((r) => [r.name, r]));
}

/** The id of the credential named (null and undefined pass through), or a 400 suggesting one. */
export async function credentialIdByName(
  m: EntityManager,
  name: string | null | undefined,
  path = 'credential',
): Promise<string | null | undefined> {
  if (name === undefined || name === null) return name;
  const c = await m.findOne(CredentialEntity, { where: { name }, select: { id: true } });
  if (!c) {
    const names = (await m.find(CredentialEntity, { select: { name: true } })).map((x) => x.name);
    throw validationFailed([
      { path, message: `no credential named "${name}"${didYouMean(name, names)}` },
    ]);
  }
  return c.id;
}

/** An audit entry about a named node or cluster, in the caller's transaction. */
export function auditNamed(
  audit: AuditService,
  m: EntityManager,
  ctx: AuditContext,
  subjectType: 'Node' | 'Cluster',
  action: string,
  id: string,
  name: string,
  details: Record<string, unknown>,
) {
  return audit.record(
    ctx,
    { action, subjectType, subjectId: id, details: { name, ...details } },
    m,
  );
}
