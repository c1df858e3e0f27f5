/**
 * The execution status machine, with no Nest or database in sight. `ExecutionRepository` is the
 * only code that writes an execution's status and checks every write against this table; the
 * spec pins it as a truth table. Approvals will add waiting states here.
 */

export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
  'interrupted',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** An execution in one of these never changes again. */
export const FINAL_STATUSES: readonly ExecutionStatus[] = [
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
  'interrupted',
];

/** How a run may end, as the worker reports it. */
export type RunOutcome = 'succeeded' | 'failed' | 'canceled' | 'timed_out';

/**
 * Every move, named by its intent:
 * - `claim`: a worker takes a queued execution;
 * - `cancelQueued`: canceled before any worker took it;
 * - `finish`: the worker reports how the run ended;
 * - `interrupt`: the worker stopped reporting (the reaper) — never left running.
 */
export const TRANSITIONS = {
  claim: { from: ['queued'], to: ['running'] },
  cancelQueued: { from: ['queued'], to: ['canceled'] },
  finish: { from: ['running'], to: ['succeeded', 'failed', 'canceled', 'timed_out'] },
  interrupt: { from: ['running'], to: ['interrupted'] },
} as const satisfies Record<
  string,
  { from: readonly ExecutionStatus[]; to: readonly ExecutionStatus[] }
>;
export type ExecutionTransition = keyof typeof TRANSITIONS;

export function isFinal(status: ExecutionStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** The statuses `transition` may start from (the WHERE of the repository's UPDATE). */
export function fromStatuses(transition: ExecutionTransition): readonly ExecutionStatus[] {
  return TRANSITIONS[transition].from;
}

/** Whether any transition moves an execution from `from` to `to`. */
export function canMove(from: ExecutionStatus, to: ExecutionStatus): boolean {
  return Object.values(TRANSITIONS).some(
    (t) =>
      (t.from as readonly ExecutionStatus[]).includes(from) &&
      (t.to as readonly ExecutionStatus[]).includes(to),
  );
}

/** Throws unless `transition` may end in `to`: a programming error, never a user's. */
export function assertTransition(transition: ExecutionTransition, to: ExecutionStatus): void {
  if (!(TRANSITIONS[transition].to as readonly ExecutionStatus[]).includes(to)) {
    throw new Error(`execution transition ${transition} cannot end in ${to}`);
  }
}
