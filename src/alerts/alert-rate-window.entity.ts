import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IntegrationEntity } from './integration.entity.js';

/**
 * The storm guard's counters, shared by every process: one row per (scope, window start), moved
 * by an atomic upsert in the delivery's own transaction (a rolled-back step counts nothing).
 * Scopes: `ingest:<integration-id>` (alerts received from one integration) and
 * `run:<runbook>:<node>` (automatic runs planned, whichever integration's alert asked; `<node>`
 * is `*` for a run on the runbook's own targets). Fixed windows: `window_start` is the time
 * rounded down to a multiple of the window's length.
 */
@Entity('alert_rate_windows')
export class AlertRateWindowEntity {
  @PrimaryColumn({
    type: 'varchar',
    length: 200,
    primaryKeyConstraintName: 'alert_rate_windows_pkey',
  })
  scope: string;

  @PrimaryColumn({
    name: 'window_start',
    type: 'timestamptz',
    primaryKeyConstraintName: 'alert_rate_windows_pkey',
  })
  windowStart: Date;

  /** `ingest:` rows: their integration (deleted with it). */
  @Column({ name: 'integration_id', type: 'uuid', nullable: true })
  integrationId: string | null;

  @ManyToOne(() => IntegrationEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({
    name: 'integration_id',
    foreignKeyConstraintName: 'alert_rate_windows_integration_id_fkey',
  })
  integration?: IntegrationEntity | null;

  /** Alerts received (`ingest:`) or runs planned (`run:`) in the window, the held-back ones too. */
  @Column({ type: 'integer', default: 0 })
  count: number;

  /** How many of them the guard held back. */
  @Column({ type: 'integer', default: 0 })
  suppressed: number;

  /** `ingest:` rows: the incident that tells of the storm (one timeline entry per window). */
  @Column({ name: 'incident_id', type: 'uuid', nullable: true })
  incidentId: string | null;
}
