import { subject } from '@casl/ability';
import { defineAuditAcl } from '../audit/audit.acl.js';
import { defineAuthAcl } from './auth.acl.js';
import { buildAbility, hasRole, ROLES, type Principal } from '../common/access/ability.js';

const SELF = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

const as = (role: string): Principal => ({
  id: SELF,
  username: role,
  displayName: role,
  roles: [role],
  groups: [],
  via: 'session',
});

const ability = (role: string) => buildAbility(as(role), [defineAuthAcl, defineAuditAcl]);

type Row = [
  action: string,
  target: string | ReturnType<typeof subject>,
  allowed: Record<string, boolean>,
];

const all = (v: boolean) => Object.fromEntries(ROLES.map((r) => [r, v]));
const adminOnly = { viewer: false, responder: false, operator: false, admin: true };

/** role × action × subject → allow/deny, for the users, tokens and audit rules. */
const TABLE: Row[] = [
  ['manage', 'User', adminOnly],
  ['create', 'User', adminOnly],
  ['update', subject('User', { id: SELF }), adminOnly],
  ['read', subject('User', { id: SELF }), all(true)],
  ['read', subject('User', { id: OTHER }), adminOnly],
  ['create', subject('ApiToken', { userId: SELF }), all(true)],
  ['read', subject('ApiToken', { userId: SELF }), all(true)],
  ['delete', subject('ApiToken', { userId: SELF }), all(true)],
  ['read', subject('ApiToken', { userId: OTHER }), adminOnly],
  ['delete', subject('ApiToken', { userId: OTHER }), adminOnly],
  ['create', subject('ApiToken', { userId: OTHER }), all(false)],
  ['read', 'AuditEntry', adminOnly],
  ['verify', 'AuditEntry', adminOnly],
  ['update', 'AuditEntry', all(false)],
  ['delete', 'AuditEntry', all(false)],
];

describe('auth and audit access rules (truth table)', () => {
  for (const [action, target, allowed] of TABLE) {
    const name =
      typeof target === 'string'
        ? target
        : `${(target as { __caslSubjectType__: string }).__caslSubjectType__} ${JSON.stringify(target)}`;
    for (const role of ROLES) {
      it(`${role} ${allowed[role] ? 'may' : 'may not'} ${action} ${name}`, () => {
        expect(ability(role).can(action, target as never)).toBe(allowed[role]);
      });
    }
  }

  it('a user with no role can only see themselves and their tokens', () => {
    const a = buildAbility({ ...as('x'), roles: [] }, [defineAuthAcl, defineAuditAcl]);
    expect(a.can('read', subject('User', { id: SELF }))).toBe(true);
    expect(a.can('read', 'AuditEntry')).toBe(false);
    expect(a.can('manage', 'User')).toBe(false);
  });

  it('roles are ordered: each includes the ones below it', () => {
    expect(hasRole({ roles: ['operator'] }, 'responder')).toBe(true);
    expect(hasRole({ roles: ['operator'] }, 'admin')).toBe(false);
    expect(hasRole({ roles: ['viewer', 'admin'] }, 'operator')).toBe(true);
    expect(hasRole({ roles: ['sre-lead'] }, 'viewer')).toBe(false);
  });
});
