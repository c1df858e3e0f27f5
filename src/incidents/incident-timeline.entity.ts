import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One entry of an incident's timeline. Append-only (a trigger refuses UPDATE and DELETE).
 * `seq` (1, 2, … per incident) is the order entries committed in, the SSE event id and the page
 * cursor; `id` is only a global key. `at` is the database clock at insert, never earlier than
 * the previous entry's.
 */
@Entity('incident_timeline')
@Index('incident_timeline_incident_seq_key', ['incidentId', 'seq'], { unique: true })
export class IncidentTimelineEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column({ name: 'incident_id', type: 'uuid' })
  incidentId: string;

  @Column({ type: 'integer' })
  seq: number;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ type: 'varchar', length: 64 })
  kind: string;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId: string | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 128 })
  actorName: string;

  @Column({ type: 'text' })
  summary: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;

  @Column({ name: 'subject_type', type: 'varchar', length: 64, nullable: true })
  subjectType: string | null;

  @Column({ name: 'subject_id', type: 'varchar', length: 128, nullable: true })
  subjectId: string | null;

  /** Makes appends from other modules idempotent, e.g. `execution:<id>:finished`. */
  @Index('incident_timeline_dedupe_key', { unique: true })
  @Column({ name: 'dedupe_key', type: 'varchar', length: 200, nullable: true })
  dedupeKey: string | null;
}
