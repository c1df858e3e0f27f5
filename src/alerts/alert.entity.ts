import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { AlertStatus } from './alert.js';
import { IntegrationEntity } from './integration.entity.js';

/** One alert per (integration, fingerprint): a repeat updates it, never duplicates it. */
@Entity('alerts')
@Index('alerts_integration_fingerprint_key', ['integrationId', 'fingerprint'], { unique: true })
@Index('alerts_group_idx', ['integrationId', 'groupKey'])
export class AlertEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'alerts_pkey' })
  id: string;

  @Column({ name: 'integration_id', type: 'uuid' })
  integrationId: string;

  /** An integration with alerts is disabled, never deleted. */
  @ManyToOne(() => IntegrationEntity, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'integration_id', foreignKeyConstraintName: 'alerts_integration_id_fkey' })
  integration?: IntegrationEntity;

  @Column({ type: 'varchar', length: 128 })
  fingerprint: string;

  @Column({ type: 'varchar', length: 16 })
  status: AlertStatus;

  @Column({ type: 'jsonb' })
  labels: Record<string, string>;

  @Column({ type: 'jsonb' })
  annotations: Record<string, string>;

  @Column({ name: 'starts_at', type: 'timestamptz', nullable: true })
  startsAt: Date | null;

  @Column({ name: 'ends_at', type: 'timestamptz', nullable: true })
  endsAt: Date | null;

  @Column({ name: 'generator_url', type: 'text', nullable: true })
  generatorUrl: string | null;

  @Column({ name: 'group_key', type: 'text' })
  groupKey: string;

  /** The incident it opened or joined (an incidents-module id, read through its service). */
  @Column({ name: 'incident_id', type: 'uuid', nullable: true })
  incidentId: string | null;

  /** The delivery that last changed it: an older delivery arriving late changes nothing. */
  @Column({ name: 'last_delivery_id', type: 'bigint' })
  lastDeliveryId: string;

  @Column({ name: 'first_seen_at', type: 'timestamptz', default: () => 'now()' })
  firstSeenAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz', default: () => 'now()' })
  lastSeenAt: Date;
}
