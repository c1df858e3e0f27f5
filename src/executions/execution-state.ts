/**
 * The execution status machine, with no Nest or database in sight. `ExecutionRepository` is the
 * only code that writes an execution's status and checks every write against this table; the
 * spec pins it as a truth table. `awaiting_approval` is a run held for a decision, either before
 * anything ran (a runbook-level `approval`) or paused at an `approval` step (checkpointed, no
 * worker holds it); `rejected` and `expired` are how a run-level approval can end it.
 * `awaiting_child` is a parent checkpointed at a `runbook` step whose child waits for approval
 * (or runs after one): no worker holds it; the child's end releases it. `refused` is a scheduled
 * fire that a start refused (a change freeze, the concurrency policy, access): created final, by
 * `ExecutionRepository.createRefused`, so it shows on the execution list; nothing ever ran.
 */

export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
  'interrupted',
  'awaiting_approval',
  'rejected',
  'expired',
  'awaiting_child',
  'refused',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** An execution in one of these never changes again. */
export const FINAL_STATUSES: readonly ExecutionStatus[] = [
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
  'interrupted',
  'rejected',
  'expired',
  'refused',
];

/** How a run may end, as the worker reports it. */
export type RunOutcome = 'succeeded' | 'failed' | 'canceled' | 'timed_out';

/**
 * Every move, named by its intent:
 * - `claim`: a worker takes a queued execution;
 * - `cancelQueued`: canceled before any worker took it;
 * - `finish`: the worker reports how the run ended;
 * - `interrupt`: the worker stopped reporting (the reaper) — never left running; a waiting
 *   execution has no worker, so the reaper never touches it;
 * - `pause`: the worker checkpoints a run at an `approval` step (or at a `runbook` step whose
 *   child waits) and lets it go;
 * - `release`: a decision (or a step's timeout, or the child's end) lets a waiting run go to the
 *   queue;
 * - `decline`: a run-level approval is rejected, or times out (`expired`, or `failed` with
 *   `onTimeout: fail`): nothing ran.
 */
export const TRANSITIONS = {
  claim: { from: ['queued'], to: ['running'] },
  cancelQueued: { from: ['queued', 'awaiting_approval', 'awaiting_child'], to: ['canceled'] },
  finish: { from: ['running'], to: ['succeeded', 'failed', 'canceled', 'timed_out'] },
  interrupt: { from: ['running'], to: ['interrupted'] },
  pause: { from: ['running'], to: ['awaiting_approval', 'awaiting_child'] },
  release: { from: ['awaiting_approval', 'awaiting_child'], to: ['queued'] },
  decline: { from: ['awaiting_approval'], to: ['rejected', 'expired', 'failed'] },
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
