import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `scheduled`: on time; `catch-up`: a missed time run at start-up; `missed`: one not run. */
export type FireKind = 'scheduled' | 'catch-up' | 'missed';
/** `claimed` (this process is starting it) → `started` | `refused`; `skipped` (missed, not run). */
export type FireStatus = 'claimed' | 'started' | 'refused' | 'skipped';

/**
 * One fire time of a schedule, and what became of it: the schedule's history. The unique
 * (schedule_id, fire_time) is the claim: whichever process inserts it starts the run.
 */
@Entity('schedule_fires')
@Index('schedule_fires_schedule_fire_time_key', ['scheduleId', 'fireTime'], { unique: true })
export class ScheduleFireEntity {
  @PrimaryGeneratedColumn('increment', {
    type: 'bigint',
    primaryKeyConstraintName: 'schedule_fires_pkey',
  })
  id: string;

  @Column({ name: 'schedule_id', type: 'varchar', length: 128 })
  scheduleId: string;

  @Column({ name: 'fire_time', type: 'timestamptz' })
  fireTime: Date;

  @Column({ type: 'varchar', length: 16 })
  kind: FireKind;

  @Column({ type: 'varchar', length: 16 })
  status: FireStatus;

  @Column({ name: 'execution_id', type: 'uuid', nullable: true })
  executionId: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
