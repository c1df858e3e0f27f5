import { buildAbility, ROLES, type Principal } from '../common/access/ability.js';
import { defineNodesAcl } from './nodes.acl.js';

const as = (roles: string[]): Principal => ({
  id: '11111111-1111-4111-8111-111111111111',
  username: roles[0] ?? 'nobody',
  displayName: 'x',
  roles,
  groups: [],
  via: 'session',
});

const ability = (role: string) => buildAbility(as([role]), [defineNodesAcl]);

type Row = [action: string, subject: string, allowed: Record<string, boolean>];

const all = (v: boolean) => Object.fromEntries(ROLES.map((r) => [r, v]));
const adminOnly = { viewer: false, responder: false, operator: false, admin: true };
const operatorUp = { viewer: false, responder: false, operator: true, admin: true };

/** role × action × subject → allow/deny, for nodes, clusters and credentials. */
const TABLE: Row[] = [
  ['read', 'Node', all(true)],
  ['create', 'Node', adminOnly],
  ['update', 'Node', adminOnly],
  ['delete', 'Node', adminOnly],
  ['manage', 'Node', adminOnly],
  ['run', 'Node', adminOnly],
  ['read', 'Cluster', all(true)],
  ['create', 'Cluster', adminOnly],
  ['update', 'Cluster', adminOnly],
  ['delete', 'Cluster', adminOnly],
  ['read', 'Credential', operatorUp],
  ['create', 'Credential', adminOnly],
  ['update', 'Credential', adminOnly],
  ['delete', 'Credential', adminOnly],
  ['manage', 'Credential', adminOnly],
];

describe('node, cluster and credential access rules (truth table)', () => {
  for (const [action, subject, allowed] of TABLE) {
    for (const role of ROLES) {
      it(`${role} ${allowed[role] ? 'may' : 'may not'} ${action} ${subject}`, () => {
        expect(ability(role).can(action, subject)).toBe(allowed[role]);
      });
    }
  }

  it('a user with no built-in role (only groups) sees nothing', () => {
    const a = buildAbility({ ...as(['sre-lead']), groups: ['sre'] }, [defineNodesAcl]);
    for (const s of ['Node', 'Cluster', 'Credential']) expect(a.can('read', s)).toBe(false);
  });

  it('a higher role listed beside a lower one wins', () => {
    const a = buildAbility(as(['viewer', 'operator']), [defineNodesAcl]);
    expect(a.can('read', 'Credential')).toBe(true);
    expect(a.can('update', 'Node')).toBe(false);
  });
});
