import { subject } from '@casl/ability';
import { buildAbility, ROLES, type Principal } from '../common/access/ability.js';
import { mayDo, type IncidentAction } from './incident-rules.js';
import { defineIncidentsAcl } from './incidents.acl.js';

const SELF = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

const ability = (role: string) =>
  buildAbility(
    {
      id: SELF,
      username: role,
      displayName: role,
      roles: [role],
      groups: [],
      via: 'session',
    } as Principal,
    [defineIncidentsAcl],
  );

/** The CASL rules against the same table as `mayDo`: [action, CASL check, is the caller commander]. */
const ROWS: Array<[IncidentAction, string, ReturnType<typeof subject> | string, boolean]> = [
  ['read', 'read', 'Incident', false],
  ['declare', 'create', 'Incident', false],
  ['note', 'create', 'IncidentNote', false],
  ['run', 'run', 'Incident', false],
  ['change-status', 'update', subject('Incident', { commanderId: SELF }), true],
  ['change-status', 'update', subject('Incident', { commanderId: OTHER }), false],
  ['change-severity', 'update', subject('Incident', { commanderId: OTHER }), false],
  ['assign-role', 'update', subject('Incident', { commanderId: SELF }), true],
  ['edit', 'update', subject('Incident', { commanderId: undefined }), false],
];

describe('incident access rules match the truth table', () => {
  for (const [action, caslAction, target, isCommander] of ROWS) {
    for (const role of ROLES) {
      const expected = mayDo({ role, isCommander }, action);
      it(`${role}${isCommander ? ' (commander)' : ''} ${expected ? 'may' : 'may not'} ${action}`, () => {
        expect(ability(role).can(caslAction, target as never)).toBe(expected);
      });
    }
  }

  it('a user with no built-in role may do nothing', () => {
    const a = ability('sre');
    expect(a.can('read', 'Incident')).toBe(false);
    expect(a.can('create', 'Incident')).toBe(false);
  });
});
