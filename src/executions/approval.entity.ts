import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import type { Plan } from '../runbooks/runbook.plan.js';
import { ExecutionEntity } from './execution.entity.js';

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired';

/**
 * One hold of an execution for a human decision: the whole run before it starts (`key` `run`,
 * `step` null) or an `approval` step in one batch (`key` `step:NAME:BATCH`). Who asked, what
 * would run (the plan, secure values masked), who may decide (references as written: roles,
 * groups, `user:NAME`), how many must approve, and when it times out and reminds.
 */
@Entity('approval_requests')
@Index('approval_requests_execution_key', ['executionId', 'key'], { unique: true })
@Index('approval_requests_state_idx', ['state'])
export class ApprovalRequestEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'approval_requests_pkey' })
  id: string;

  @Column({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @ManyToOne(() => ExecutionEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({
    name: 'execution_id',
    foreignKeyConstraintName: 'approval_requests_execution_id_fkey',
  })
  execution?: ExecutionEntity;

  @Column({ type: 'varchar', length: 160 })
  key: string;

  @Column({ type: 'varchar', length: 63, nullable: true })
  step: string | null;

  @Column({ type: 'varchar', length: 16 })
  state: ApprovalState;

  @Column({ name: 'requested_by_id', type: 'uuid', nullable: true })
  requestedById: string | null;

  @Column({ name: 'requested_by_name', type: 'varchar', length: 128 })
  requestedByName: string;

  /** Why it is held: the runbook's `approval.reason` and the nodes it applies to, or the step's message. */
  @Column({ type: 'text' })
  reason: string;

  @Column({ type: 'jsonb', nullable: true })
  plan: Plan | null;

  @Column({ type: 'jsonb', nullable: true })
  choices: string[] | null;

  @Column({ type: 'jsonb' })
  approvers: string[];

  @Column({ type: 'integer', default: 1 })
  required: number;

  @Column({ name: 'on_timeout', type: 'varchar', length: 8, default: 'reject' })
  onTimeout: 'reject' | 'fail';

  @Column({ name: 'timeout_at', type: 'timestamptz', nullable: true })
  timeoutAt: Date | null;

  @Column({ name: 'remind_every_ms', type: 'integer', nullable: true })
  remindEveryMs: number | null;

  @Column({ name: 'next_reminder_at', type: 'timestamptz', nullable: true })
  nextReminderAt: Date | null;

  @Column({ type: 'integer', default: 0 })
  reminders: number;

  /** The choice the deciding approval picked (an `approval` step with `choices`). */
  @Column({ type: 'varchar', length: 63, nullable: true })
  choice: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt: Date | null;
}

/** One approver's decision on one request (at most one each: approving twice is refused). */
@Entity('approval_decisions')
@Index('approval_decisions_request_actor', ['requestId', 'actorId'], { unique: true })
export class ApprovalDecisionEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'approval_decisions_pkey' })
  id: string;

  @Column({ name: 'request_id', type: 'uuid' })
  requestId: string;

  @ManyToOne(() => ApprovalRequestEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({
    name: 'request_id',
    foreignKeyConstraintName: 'approval_decisions_request_id_fkey',
  })
  request?: ApprovalRequestEntity;

  @Column({ name: 'actor_id', type: 'uuid' })
  actorId: string;

  @Column({ name: 'actor_name', type: 'varchar', length: 128 })
  actorName: string;

  @Column({ type: 'varchar', length: 8 })
  decision: 'approve' | 'reject';

  @Column({ type: 'text', nullable: true })
  comment: string | null;

  @Column({ type: 'varchar', length: 63, nullable: true })
  choice: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
