import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import type { InternalAlert } from './alert.js';
import { IntegrationEntity } from './integration.entity.js';

/**
 * `received` (stored, answered 202) → `starting` (alerts, incident and timeline written; the
 * planned automatic runs are being started) → `processed`. Processed by any process's
 * AlertProcessor, one at a time per row (FOR UPDATE SKIP LOCKED), at start-up too.
 */
export type DeliveryState = 'received' | 'starting' | 'processed' | 'rejected';

/** An automatic run planned for a delivery, and what became of it. */
export interface PlannedRun {
  runbook: string;
  options: Record<string, unknown>;
  nodes: string[] | null;
  incident: string;
  alert: string;
  /** Set once started or refused. */
  execution?: string;
  error?: string;
  /** Held back by the storm guard (the reason): never started, never retried. */
  suppressed?: string;
}

/** One webhook delivery as received: the adapter's alerts and the group they came in. */
@Entity('alert_deliveries')
@Index('alert_deliveries_pending_idx', ['id'], { where: `"processed_at" IS NULL` })
@Index('alert_deliveries_event_key', ['integrationId', 'eventId'], {
  unique: true,
  where: `"event_id" IS NOT NULL`,
})
@Index('alert_deliveries_unaudited_idx', ['id'], { where: `NOT "audited"` })
@Index('alert_deliveries_group_pending_idx', ['integrationId', 'groupKey', 'id'], {
  where: `"processed_at" IS NULL`,
})
export class AlertDeliveryEntity {
  @PrimaryGeneratedColumn('increment', {
    type: 'bigint',
    primaryKeyConstraintName: 'alert_deliveries_pkey',
  })
  id: string;

  @Column({ name: 'integration_id', type: 'uuid' })
  integrationId: string;

  /** An integration with deliveries is disabled, never deleted. */
  @ManyToOne(() => IntegrationEntity, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({
    name: 'integration_id',
    foreignKeyConstraintName: 'alert_deliveries_integration_id_fkey',
  })
  integration?: IntegrationEntity;

  @Column({ type: 'varchar', length: 16 })
  state: DeliveryState;

  @Column({ name: 'group_key', type: 'text' })
  groupKey: string;

  @Column({ type: 'jsonb' })
  alerts: InternalAlert[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  runs: PlannedRun[];

  /** The last processing error (a delivery that fails is retried with backoff, never dropped). */
  @Column({ type: 'text', nullable: true })
  error: string | null;

  /** Over the integration's ingest limit: stored, resolves applied, no firing processed. */
  @Column({ type: 'boolean', default: false })
  limited: boolean;

  /**
   * Whether its `alert.received` audit entry is written: by the processor, in batches, so the
   * request path never waits for the audit chain's lock.
   */
  @Column({ type: 'boolean', default: false })
  audited: boolean;

  /** The request that brought it, for its audit entry. */
  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId: string | null;

  @Column({ name: 'source_ip', type: 'varchar', length: 64, nullable: true })
  sourceIp: string | null;

  /** Alerts the source left out of the payload (Alertmanager's `truncatedAlerts`). */
  @Column({ type: 'integer', default: 0 })
  truncated: number;

  /** Failed processing attempts so far. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** After a failure: not tried again before this, so it holds up no other delivery meanwhile. */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;

  /** The source's event id (PagerDuty `event.id`, …): a redelivery of it is this delivery. */
  @Column({ name: 'event_id', type: 'varchar', length: 200, nullable: true })
  eventId: string | null;

  /** A rejected delivery's body as received (else null). */
  @Column({ type: 'bytea', nullable: true, select: false })
  payload?: Buffer | null;

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz' })
  receivedAt: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt: Date | null;
}
