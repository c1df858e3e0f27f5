import { Injectable } from '@nestjs/common';
import {
  hasRole,
  ROLES,
  type AclBuilder,
  type BuiltInRole,
  type Principal,
} from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';
import type { RunbookDefinition } from './runbook.schema.js';

/**
 * Who may do what with a runbook. A runbook's `access` block names roles (that role or higher),
 * groups, and `user:NAME`; without one, anyone signed in may view, responders may run diagnostics,
 * operators may run remediations, and admins approve. Admins may do everything, and only admins
 * create, update, sync and disable runbooks through the API (runbooks in git go through review).
 *
 * The concrete check compares the caller's keys (`role:operator`, `group:sre`, `user:alice`)
 * with the runbook's expanded lists (`viewers`, `runners`, `approvers`).
 */
export function defineRunbooksAcl(p: Principal, { can }: AclBuilder): void {
  const keys = principalKeys(p);
  can('read', 'Runbook', { viewers: { $in: keys } });
  can('run', 'Runbook', { runners: { $in: keys } });
  can('approve', 'Runbook', { approvers: { $in: keys } });
  // Admins make, change and remove change freezes through the API (file ones go through review).
  if (hasRole(p, 'admin')) can('manage', ['Runbook', 'Freeze']);
}

@Injectable()
@AclRules()
export class RunbooksAcl implements AclProvider {
  define = defineRunbooksAcl;
}

export function principalKeys(p: Pick<Principal, 'roles' | 'groups' | 'username'>): string[] {
  return [
    ...p.roles.map((r) => `role:${r}`),
    ...p.groups.map((g) => `group:${g}`),
    `user:${p.username}`,
  ];
}

/** A role reference includes every higher role; anything else is a group, or `user:NAME`. */
function expand(refs: readonly string[]): string[] {
  return refs.flatMap((ref) => {
    if (ref.startsWith('user:')) return [ref];
    const i = ROLES.indexOf(ref as BuiltInRole);
    return i >= 0 ? ROLES.slice(i).map((r) => `role:${r}`) : [`group:${ref}`];
  });
}

export interface RunbookAccessSubject {
  name: string;
  viewers: string[];
  runners: string[];
  approvers: string[];
}

/** The fields the access rules match, for `subject('Runbook', runbookAccess(def))`. */
export function runbookAccess(
  def: Pick<RunbookDefinition, 'name' | 'kind' | 'access' | 'approval'>,
): RunbookAccessSubject {
  const run = def.access?.run ?? [def.kind === 'diagnostic' ? 'responder' : 'operator'];
  const approve = def.approval?.approvers ?? def.access?.approve ?? ['admin'];
  const runners = expand(run);
  const approvers = expand(approve);
  return {
    name: def.name,
    // Whoever may run or approve may also see it.
    viewers: [...new Set([...expand(def.access?.view ?? ['viewer']), ...runners, ...approvers])],
    runners,
    approvers,
  };
}
