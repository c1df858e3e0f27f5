import {
  assertTransition,
  canMove,
  EXECUTION_STATUSES,
  FINAL_STATUSES,
  fromStatuses,
  isFinal,
  TRANSITIONS,
  type ExecutionStatus,
} from './execution-state.js';

const T = true;
const F = false;

/**
 * from (row) → to (column): queued, running, succeeded, failed, canceled, timed_out, interrupted,
 * awaiting_approval, rejected, expired, awaiting_child, refused.
 */
type Row = [
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
  boolean,
];
const TABLE: Record<ExecutionStatus, Row> = {
  queued: [F, T, F, F, T, F, F, F, F, F, F, F],
  running: [F, F, T, T, T, T, T, T, F, F, T, F],
  succeeded: [F, F, F, F, F, F, F, F, F, F, F, F],
  failed: [F, F, F, F, F, F, F, F, F, F, F, F],
  canceled: [F, F, F, F, F, F, F, F, F, F, F, F],
  timed_out: [F, F, F, F, F, F, F, F, F, F, F, F],
  interrupted: [F, F, F, F, F, F, F, F, F, F, F, F],
  awaiting_approval: [T, F, F, T, T, F, F, F, T, T, F, F],
  rejected: [F, F, F, F, F, F, F, F, F, F, F, F],
  expired: [F, F, F, F, F, F, F, F, F, F, F, F],
  awaiting_child: [T, F, F, F, T, F, F, F, F, F, F, F],
  // Created final (a refused scheduled fire): no move leads to it or out of it.
  refused: [F, F, F, F, F, F, F, F, F, F, F, F],
};

describe('execution status machine (truth table)', () => {
  for (const from of EXECUTION_STATUSES) {
    EXECUTION_STATUSES.forEach((to, i) => {
      const allowed = TABLE[from][i];
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        expect(canMove(from, to)).toBe(allowed);
      });
    });
  }

  it('final statuses are exactly those with no way out', () => {
    for (const s of EXECUTION_STATUSES) {
      expect(isFinal(s)).toBe(TABLE[s].every((x) => !x));
      expect(FINAL_STATUSES.includes(s)).toBe(isFinal(s));
    }
  });

  it('each named transition starts and ends where the table says', () => {
    expect(fromStatuses('claim')).toEqual(['queued']);
    expect(fromStatuses('cancelQueued')).toEqual(['queued', 'awaiting_approval', 'awaiting_child']);
    expect(fromStatuses('pause')).toEqual(['running']);
    expect(fromStatuses('release')).toEqual(['awaiting_approval', 'awaiting_child']);
    expect(fromStatuses('decline')).toEqual(['awaiting_approval']);
    expect(fromStatuses('finish')).toEqual(['running']);
    expect(fromStatuses('interrupt')).toEqual(['running']);
    for (const [name, t] of Object.entries(TRANSITIONS))
      for (const to of t.to)
        expect(() => assertTransition(name as keyof typeof TRANSITIONS, to)).not.toThrow();
  });

  it('refuses a transition ending somewhere it cannot', () => {
    expect(() => assertTransition('finish', 'interrupted')).toThrow(
      /finish cannot end in interrupted/,
    );
    expect(() => assertTransition('claim', 'succeeded')).toThrow();
    expect(() => assertTransition('interrupt', 'queued')).toThrow();
    expect(() => assertTransition('interrupt', 'awaiting_approval')).toThrow();
    expect(() => assertTransition('decline', 'succeeded')).toThrow();
  });
});
