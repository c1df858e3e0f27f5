import { subject } from '@casl/ability';
import { buildAbility, ROLES, type Principal } from '../common/access/ability.js';
import type { RunbookDefinition } from './runbook.schema.js';
import { defineRunbooksAcl, runbookAccess } from './runbooks.acl.js';

const who = (roles: string[], groups: string[] = [], username = 'someone'): Principal => ({
  id: '11111111-1111-4111-8111-111111111111',
  username,
  displayName: username,
  roles,
  groups,
  via: 'session',
});

const aRunbook = (over: Partial<RunbookDefinition> = {}): RunbookDefinition => ({
  name: 'restart-service',
  description: 'x',
  kind: 'remediation',
  steps: [{ name: 'a', run: 'true' }],
  ...over,
});

const can = (p: Principal, action: string, def: RunbookDefinition) =>
  buildAbility(p, [defineRunbooksAcl]).can(action, subject('Runbook', runbookAccess(def)));

type Row = [
  label: string,
  def: RunbookDefinition,
  action: string,
  expected: Record<string, boolean>,
];
const byRole = (viewer: boolean, responder: boolean, operator: boolean, admin: boolean) => ({
  viewer,
  responder,
  operator,
  admin,
});

const diagnostic = aRunbook({ kind: 'diagnostic', name: 'diagnose-host' });
const remediation = aRunbook();
const restricted = aRunbook({
  access: { view: ['operator'], run: ['sre-lead', 'user:carol'], approve: ['sre-lead'] },
});
const approvalBlock = aRunbook({ approval: { approvers: ['incident-commanders'] } });
const viewNarrowerThanRun = aRunbook({
  kind: 'diagnostic',
  access: { view: ['admin'], run: ['responder'] },
});

/** role × action × runbook → allow/deny. */
const TABLE: Row[] = [
  ['diagnostic, no access block', diagnostic, 'read', byRole(true, true, true, true)],
  ['diagnostic, no access block', diagnostic, 'run', byRole(false, true, true, true)],
  ['diagnostic, no access block', diagnostic, 'approve', byRole(false, false, false, true)],
  ['remediation, no access block', remediation, 'read', byRole(true, true, true, true)],
  ['remediation, no access block', remediation, 'run', byRole(false, false, true, true)],
  ['remediation, no access block', remediation, 'update', byRole(false, false, false, true)],
  [
    'restricted (view: operator, run: sre-lead group)',
    restricted,
    'read',
    byRole(false, false, true, true),
  ],
  [
    'restricted (view: operator, run: sre-lead group)',
    restricted,
    'run',
    byRole(false, false, false, true),
  ],
  [
    'restricted (view: operator, run: sre-lead group)',
    restricted,
    'approve',
    byRole(false, false, false, true),
  ],
  ['approval.approvers names a group', approvalBlock, 'approve', byRole(false, false, false, true)],
  // Whoever may run a runbook may view it: `view: [admin]` does not hide it from its runners.
  ['view: admin, run: responder', viewNarrowerThanRun, 'read', byRole(false, true, true, true)],
  ['view: admin, run: responder', viewNarrowerThanRun, 'run', byRole(false, true, true, true)],
];

describe('runbook access rules (truth table)', () => {
  for (const [label, def, action, expected] of TABLE) {
    for (const role of ROLES) {
      it(`${role} ${expected[role] ? 'may' : 'may not'} ${action} ${label}`, () => {
        expect(can(who([role]), action, def)).toBe(expected[role]);
      });
    }
  }

  it('a group grants what the access block names, whatever the role', () => {
    const lead = who(['viewer'], ['sre-lead']);
    expect(can(lead, 'run', restricted)).toBe(true);
    expect(can(lead, 'approve', restricted)).toBe(true);
    // Whoever may run or approve it may see it, whatever `view` says.
    expect(can(lead, 'read', restricted)).toBe(true);
    expect(can(who(['viewer'], ['incident-commanders']), 'approve', approvalBlock)).toBe(true);
  });

  it('user:NAME grants that one user', () => {
    expect(can(who(['viewer'], [], 'carol'), 'run', restricted)).toBe(true);
    expect(can(who(['viewer'], [], 'carol'), 'read', restricted)).toBe(true);
    expect(can(who(['viewer'], [], 'dave'), 'read', restricted)).toBe(false);
    expect(can(who(['viewer'], [], 'dave'), 'run', restricted)).toBe(false);
  });

  it('only admins create, update and disable runbooks through the API', () => {
    for (const role of ROLES) {
      expect(buildAbility(who([role]), [defineRunbooksAcl]).can('create', 'Runbook')).toBe(
        role === 'admin',
      );
    }
  });
});
