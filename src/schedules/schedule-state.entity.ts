import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A schedule's state: paused or not, and the fire time up to which it has been handled. */
@Entity('schedule_states')
export class ScheduleStateEntity {
  /** `RUNBOOK:NAME`, stable across versions of the runbook. */
  @PrimaryColumn({ type: 'varchar', length: 128, primaryKeyConstraintName: 'schedule_states_pkey' })
  id: string;

  @Column({ name: 'runbook_name', type: 'varchar', length: 63 })
  runbookName: string;

  @Column({ type: 'varchar', length: 48 })
  name: string;

  @Column({ type: 'boolean', default: false })
  paused: boolean;

  @Column({ name: 'paused_by', type: 'varchar', length: 128, nullable: true })
  pausedBy: string | null;

  @Column({ name: 'paused_at', type: 'timestamptz', nullable: true })
  pausedAt: Date | null;

  /** Fire times up to this one are handled (fired, refused, skipped or missed). */
  @Column({ name: 'handled_through', type: 'timestamptz' })
  handledThrough: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
