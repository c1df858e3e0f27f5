import {
  checkTransition,
  firstReachedFields,
  ICS_ROLES,
  INCIDENT_ACTIONS,
  isIcsRole,
  mayDo,
  MULTI_HOLDER_ROLES,
  SEVERITIES,
  SEVERITY_MEANINGS,
  STATUSES,
  type IncidentAction,
  type IncidentCaller,
  type IncidentStatus,
} from './incident-rules.js';

const T = true;
const F = false;

/** from (row) → to (column): triggered, investigating, identified, monitoring, resolved. */
const TRANSITION_TABLE: Record<IncidentStatus, [boolean, boolean, boolean, boolean, boolean]> = {
  triggered: [F, T, T, T, T],
  investigating: [F, F, T, T, T],
  identified: [F, T, F, T, T],
  monitoring: [F, T, T, F, T],
  resolved: [F, T, F, F, F],
};

describe('incident status machine (truth table)', () => {
  for (const from of STATUSES) {
    STATUSES.forEach((to, i) => {
      const allowed = TRANSITION_TABLE[from][i];
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        const r = checkTransition(from, to);
        expect(r.ok).toBe(allowed);
        if (!r.ok) expect(r.reason).toMatch(new RegExp(to));
      });
    });
  }

  it('only resolved → investigating is a reopen', () => {
    expect(checkTransition('resolved', 'investigating')).toEqual({ ok: true, reopen: true });
    expect(checkTransition('monitoring', 'investigating')).toEqual({ ok: true, reopen: false });
  });

  it('explains a refused move from resolved: reopen first', () => {
    const r = checkTransition('resolved', 'identified');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/reopen/);
  });

  it('sets each first-reached time once; resolving directly also acknowledges and mitigates', () => {
    const none = { acknowledgedAt: null, identifiedAt: null, mitigatedAt: null, resolvedAt: null };
    expect(firstReachedFields(none, 'investigating')).toEqual(['acknowledgedAt']);
    expect(firstReachedFields(none, 'identified')).toEqual(['identifiedAt', 'acknowledgedAt']);
    expect(firstReachedFields(none, 'resolved').sort()).toEqual(
      ['acknowledgedAt', 'mitigatedAt', 'resolvedAt'].sort(),
    );
    const acked = { ...none, acknowledgedAt: new Date() };
    expect(firstReachedFields(acked, 'monitoring')).toEqual(['mitigatedAt']);
    const done = { ...acked, mitigatedAt: new Date(), resolvedAt: new Date() };
    expect(firstReachedFields(done, 'investigating')).toEqual([]);
  });

  it('every severity has a documented meaning', () => {
    expect(SEVERITIES).toEqual(['SEV1', 'SEV2', 'SEV3', 'SEV4']);
    for (const s of SEVERITIES) expect(SEVERITY_MEANINGS[s].length).toBeGreaterThan(10);
  });

  it('knows the ICS roles; only subject-matter experts may be several', () => {
    expect(ICS_ROLES).toHaveLength(5);
    expect(isIcsRole('commander')).toBe(true);
    expect(isIcsRole('janitor')).toBe(false);
    expect(MULTI_HOLDER_ROLES).toEqual(['subject_matter_expert']);
  });
});

type Who = [label: string, caller: IncidentCaller];
const WHO: Who[] = [
  ['none', { role: 'none', isCommander: false }],
  ['viewer', { role: 'viewer', isCommander: false }],
  ['responder', { role: 'responder', isCommander: false }],
  ['responder (commander)', { role: 'responder', isCommander: true }],
  ['operator', { role: 'operator', isCommander: false }],
  ['operator (commander)', { role: 'operator', isCommander: true }],
  ['admin', { role: 'admin', isCommander: false }],
];

/** action → allowed for each caller of WHO, in order. */
const PERMISSIONS: Record<IncidentAction, boolean[]> = {
  read: [F, T, T, T, T, T, T],
  declare: [F, F, T, T, T, T, T],
  note: [F, F, T, T, T, T, T],
  run: [F, F, T, T, T, T, T],
  'change-severity': [F, F, F, T, F, T, T],
  'change-status': [F, F, F, T, F, T, T],
  'assign-role': [F, F, F, T, F, T, T],
  edit: [F, F, F, T, F, T, T],
};

describe('who may do what on an incident (truth table)', () => {
  for (const action of INCIDENT_ACTIONS) {
    WHO.forEach(([label, caller], i) => {
      const allowed = PERMISSIONS[action][i];
      it(`${label} ${allowed ? 'may' : 'may not'} ${action}`, () => {
        expect(mayDo(caller, action)).toBe(allowed);
      });
    });
  }
});
