import { AbilityBuilder, createMongoAbility, type MongoAbility } from '@casl/ability';

/** Built-in roles, lowest to highest. Each includes what the ones before it may do. */
export const ROLES = ['viewer', 'responder', 'operator', 'admin'] as const;
export type BuiltInRole = (typeof ROLES)[number];

export type Action =
  'manage' | 'read' | 'create' | 'update' | 'delete' | 'run' | 'approve' | 'verify';

/** Subjects are named by string; concrete records are checked with casl's `subject(type, obj)`. */
export type SubjectType = 'all' | 'User' | 'ApiToken' | 'AuditEntry' | (string & {});

/** Actions and subjects are checked by name; conditions match fields of concrete records. */
export type AppAbility = MongoAbility;

/** The authenticated caller, as every module sees it. */
export interface Principal {
  id: string;
  username: string;
  displayName: string;
  roles: string[];
  groups: string[];
  /** How the caller authenticated. */
  via: 'session' | 'token' | 'integration' | 'slack';
  tokenId?: string;
  /** The interactive session (auth_sessions.id) when `via` is `session`. */
  sessionId?: string;
}

export type AclBuilder = AbilityBuilder<AppAbility>;

/** A module's access rules: one function per module, in its `*.acl.ts`. */
export type AclDefinition = (principal: Principal, builder: AclBuilder) => void;

/** Whether the principal holds `role` or a higher built-in role. */
export function hasRole(principal: Pick<Principal, 'roles'>, role: BuiltInRole): boolean {
  const needed = ROLES.indexOf(role);
  return principal.roles.some((r) => ROLES.indexOf(r as BuiltInRole) >= needed);
}

export function buildAbility(
  principal: Principal,
  definitions: readonly AclDefinition[],
): AppAbility {
  const builder = new AbilityBuilder<AppAbility>(createMongoAbility);
  for (const define of definitions) define(principal, builder);
  return builder.build();
}
