import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { ExecutionStatus } from './execution-state.js';

export type ConcurrencyPolicy = 'queue' | 'reject';
export type ConcurrencyScope = 'runbook' | 'node';

/**
 * A target node as resolved when the execution started: what the runner needs for templates,
 * conditions and connecting (by id). Rows from before port/user/attributes were kept lack them.
 */
export interface ExecutionTarget {
  id: string | null;
  name: string;
  hostname: string;
  port?: number;
  user?: string;
  attributes?: Record<string, string>;
  /** `local`: the node is the Firebreak host; its steps run through the local executor. */
  connection?: 'local';
}

/**
 * One run of a pinned runbook version. This row is the truth: the queue carries only its id, and
 * a worker claims it by moving it from queued to running.
 */
@Entity('executions')
@Index('executions_runbook_created_idx', ['runbookName', 'createdAt'])
@Index('executions_status_idx', ['status'])
@Index('executions_actor_created_idx', ['actorName', 'createdAt'])
@Index('executions_parent_idx', ['parentExecutionId'])
@Index('executions_finished_idx', ['finishedAt'])
@Index('executions_schedule_fire_key', ['scheduleFire'], { unique: true })
@Check(
  'executions_concurrency_check',
  `(concurrency_policy IS NULL AND concurrency_scope IS NULL) OR (concurrency_policy IN ('queue', 'reject') AND concurrency_scope IN ('runbook', 'node'))`,
)
export class ExecutionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'runbook_name', type: 'varchar', length: 63 })
  runbookName: string;

  @Column({ name: 'runbook_version', type: 'integer' })
  runbookVersion: number;

  @Column({ name: 'version_id', type: 'uuid' })
  versionId: string;

  @Column({ type: 'varchar', length: 32 })
  status: ExecutionStatus;

  /** Option values with secure ones masked; the real secure values are in `secretOptions`. */
  @Column({ type: 'jsonb' })
  options: Record<string, unknown>;

  /** Secure option values, AES-256-GCM encrypted (key derived from SECRET_KEY). */
  @Column({ name: 'secret_options', type: 'bytea', nullable: true })
  secretOptions: Buffer | null;

  @Column({ type: 'jsonb' })
  targets: ExecutionTarget[];

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId: string | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 128 })
  actorName: string;

  /** What started it: api, cli, console, slack, alert, rerun. */
  @Column({ type: 'varchar', length: 16 })
  trigger: string;

  @Column({ name: 'incident_id', type: 'varchar', length: 64, nullable: true })
  incidentId: string | null;

  @Column({ name: 'rerun_of', type: 'uuid', nullable: true })
  rerunOf: string | null;

  /** The execution whose `runbook` step started this one (null for a top-level run). */
  @Column({ name: 'parent_execution_id', type: 'uuid', nullable: true })
  parentExecutionId: string | null;

  /** That step's name. */
  @Column({ name: 'parent_step', type: 'varchar', length: 63, nullable: true })
  parentStep: string | null;

  /**
   * A run's business key (unique): a scheduled run's `SCHEDULE_ID@FIRE_TIME` (a fire time has one
   * execution however often, and by however many processes, it is started), or an alert's
   * automatic run's `alert:ALERT@DELIVERY@RUNBOOK@NODES` (one per firing episode and target).
   */
  @Column({ name: 'schedule_fire', type: 'varchar', length: 200, nullable: true })
  scheduleFire: string | null;

  /**
   * A break-glass run during a change freeze: the freeze, its end and the reason (approved by
   * someone else before it ran); its child `runbook` steps inherit it (`inheritedFrom`).
   */
  @Column({ name: 'break_glass', type: 'jsonb', nullable: true })
  breakGlass: { freeze: string; until: string; reason: string; inheritedFrom?: string } | null;

  /**
   * The runbook's `concurrency` when it started (null: allow). A queue or reject execution is
   * claimed only when no other execution of its runbook (sharing a node, for scope node) runs.
   */
  @Column({ name: 'concurrency_policy', type: 'varchar', length: 8, nullable: true })
  concurrencyPolicy: ConcurrencyPolicy | null;

  @Column({ name: 'concurrency_scope', type: 'varchar', length: 8, nullable: true })
  concurrencyScope: ConcurrencyScope | null;

  /** While queued behind other executions (concurrency): their ids, as last seen. */
  @Column({ name: 'waiting_for', type: 'uuid', array: true, nullable: true })
  waitingFor: string[] | null;

  @Column({ name: 'cancel_requested', type: 'boolean', default: false })
  cancelRequested: boolean;

  /** host:pid of the worker running it. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  worker: string | null;

  @Column({ name: 'heartbeat_at', type: 'timestamptz', nullable: true })
  heartbeatAt: Date | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** Where a run paused at an `approval` step resumes (see `WorkflowCheckpoint`). */
  @Column({ type: 'jsonb', nullable: true })
  checkpoint: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
