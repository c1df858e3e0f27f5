import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type LogStream = 'stdout' | 'stderr' | 'system';

/** One line of output, in order. (execution_id, seq) is the key and the SSE event id. */
@Entity('execution_logs')
@Index('execution_logs_node_step_idx', ['executionId', 'node', 'step'])
export class ExecutionLogEntity {
  @PrimaryColumn({ name: 'execution_id', type: 'uuid' })
  executionId: string;

  @PrimaryColumn({ type: 'integer' })
  seq: number;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ type: 'varchar', length: 253, nullable: true })
  node: string | null;

  @Column({ type: 'varchar', length: 63, nullable: true })
  step: string | null;

  @Column({ type: 'varchar', length: 8 })
  stream: LogStream;

  @Column({ type: 'text' })
  line: string;
}
