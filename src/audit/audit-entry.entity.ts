import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/**
 * One entry of the append-only, hash-chained audit log. The database refuses UPDATE, DELETE and
 * TRUNCATE on this table (see the migration's trigger); `hash = sha256(prev_hash + canonical
 * entry)`, so an edit made with the trigger disabled breaks the chain at that row.
 */
@Entity('audit_log')
@Check('audit_log_outcome_check', `outcome IN ('success', 'failure', 'denied')`)
@Index('audit_log_action_at_idx', ['action', 'at'])
@Index('audit_log_actor_at_idx', ['actorName', 'at'])
@Index('audit_log_subject_idx', ['subjectType', 'subjectId'])
export class AuditEntryEntity {
  /** Position in the chain, from a sequence taken under the chain lock. */
  @PrimaryColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId: string | null;

  /** Username, or a system actor such as `system` or `alert:alertmanager`. */
  @Column({ name: 'actor_name', type: 'varchar', length: 128 })
  actorName: string;

  @Column({ type: 'varchar', length: 64 })
  action: string;

  @Column({ type: 'varchar', length: 16 })
  outcome: AuditOutcome;

  @Column({ name: 'subject_type', type: 'varchar', length: 64, nullable: true })
  subjectType: string | null;

  @Column({ name: 'subject_id', type: 'varchar', length: 256, nullable: true })
  subjectId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId: string | null;

  @Column({ name: 'source_ip', type: 'varchar', length: 64, nullable: true })
  sourceIp: string | null;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;

  @Column({ type: 'char', length: 64 })
  hash: string;
}
