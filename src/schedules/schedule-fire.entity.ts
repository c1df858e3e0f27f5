import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `scheduled`: on time; `catch-up`: a missed time run at start-up; `missed`: one not run. */
export type FireKind = 'scheduled' | 'catch-up' | 'missed';
/**
 * `claimed` (a process is starting it) → `started` | `refused`; `skipped` (missed, not run);
 * `lost` (the process starting it died before its run was created, and it was not run again).
 */
export type FireStatus = 'claimed' | 'started' | 'refused' | 'skipped' | 'lost';

/**
 * One fire time of a schedule, and what became of it: the schedule's history. The unique
 * (schedule_id, fire_time) is the claim: whichever process inserts it starts the run.
 */
@Entity('schedule_fires')
@Index('schedule_fires_schedule_fire_time_key', ['scheduleId', 'fireTime'], { unique: true })
@Index('schedule_fires_claimed_idx', ['createdAt'], { where: `"status" = 'claimed'` })
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

  /** Starts tried: 2 when a stale claim (its process died before the run existed) was retried. */
  @Column({ type: 'smallint', default: 1 })
  attempts: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
