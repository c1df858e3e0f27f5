import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type StepStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'canceled' | 'timed_out';

/** The outcome of one step on one node (node null: a step run once on the Firebreak host). */
@Entity('execution_results')
@Index('execution_results_execution_idx', ['executionId'])
export class ExecutionResultEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @Column({ type: 'varchar', length: 63 })
  step: string;

  @Column({ type: 'varchar', length: 253, nullable: true })
  node: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: StepStatus;

  @Column({ name: 'exit_code', type: 'integer', nullable: true })
  exitCode: number | null;

  @Column({ type: 'integer', default: 1 })
  attempt: number;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs: number | null;
}
