/**
 * The execution queue's side of `/health`: the executions module provides it under this token
 * (observability never imports the engine), the health controller reports it as `queue`.
 */
export const QUEUE_HEALTH = Symbol('QUEUE_HEALTH');

export interface QueueHealth {
  readonly kind: 'redis' | 'in-process';
  /** Why the queue cannot take work now; undefined when it can. */
  unavailable(): string | undefined;
}
