import {
  Column,
  CreateDateColumn,
  Entity,
  Generated,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { IncidentStatus, Severity } from './incident-rules.js';

/** `alert`: opened by an alert before incidents named the integration type (old rows). */
export type IncidentSource =
  | 'manual'
  | 'alert'
  | 'slack'
  | 'alertmanager'
  | 'grafana'
  | 'pagerduty'
  | 'generic'
  | 'cloudevents';

export interface ActionItem {
  text: string;
  owner: string | null;
  done: boolean;
}

/** An incident; `number` gives the human id INC-<number>. */
@Entity('incidents')
@Index('incidents_status_idx', ['status'])
@Index('incidents_created_idx', ['createdAt'])
export class IncidentEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('incidents_number_key', { unique: true })
  @Column({ type: 'integer' })
  @Generated('increment')
  number: number;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'text', nullable: true })
  summary: string | null;

  @Column({ type: 'text', nullable: true })
  impact: string | null;

  @Column({ type: 'varchar', length: 8 })
  severity: Severity;

  @Column({ type: 'varchar', length: 16 })
  status: IncidentStatus;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  services: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels: Record<string, string>;

  @Column({ type: 'varchar', length: 16 })
  source: IncidentSource;

  /**
   * The last timeline entry's `seq`. Bumped (`UPDATE … RETURNING`) by each append under the row
   * lock, so appends to one incident take turns and commit in `seq` order. Never loaded or saved
   * through the entity (a stale copy must not write it back): only `IncidentTimelineService`.
   */
  @Column({
    name: 'timeline_seq',
    type: 'integer',
    default: 0,
    select: false,
    insert: false,
    update: false,
  })
  timelineSeq?: number;

  @Column({ name: 'declared_by', type: 'uuid', nullable: true })
  declaredBy: string | null;

  @Column({ name: 'declared_by_name', type: 'varchar', length: 128 })
  declaredByName: string;

  @Column({ name: 'acknowledged_at', type: 'timestamptz', nullable: true })
  acknowledgedAt: Date | null;

  @Column({ name: 'identified_at', type: 'timestamptz', nullable: true })
  identifiedAt: Date | null;

  /** First reached `monitoring` (or resolved directly). */
  @Column({ name: 'mitigated_at', type: 'timestamptz', nullable: true })
  mitigatedAt: Date | null;

  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true })
  resolvedAt: Date | null;

  @Column({ name: 'action_items', type: 'jsonb', default: () => "'[]'" })
  actionItems: ActionItem[];

  /** When it was declared. */
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

export const incidentRef = (i: Pick<IncidentEntity, 'number'>) => `INC-${i.number}`;
