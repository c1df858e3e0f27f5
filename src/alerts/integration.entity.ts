import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { Severity } from '../incidents/incident-rules.js';

/** Alert sources with an adapter; each has its URL `/hooks/<type>/<id>`. */
export const INTEGRATION_TYPES = [
  'alertmanager',
  'grafana',
  'pagerduty',
  'generic',
  'cloudevents',
] as const;
export type IntegrationType = (typeof INTEGRATION_TYPES)[number];

/** At most `max` per fixed window of `windowSeconds`. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** What an integration does with the alerts it receives. */
export interface IntegrationSettings {
  /** The label whose value picks the severity (`severity`). */
  severityLabel: string;
  /** Label value → severity (`critical` → SEV1); other values get `defaultSeverity`. */
  severityMap: Record<string, Severity>;
  defaultSeverity: Severity;
  /** Runbooks (diagnostics with a matching trigger) that may run automatically; `*`: any. */
  autoRun: string[];
  /** Whether an incident whose alerts all resolved moves to `monitoring`. */
  monitorOnResolve: boolean;
  /** Who commands the incidents it opens; null: its service identity. */
  commander: string | null;
  /** Grafana: the header its HMAC signature comes in (`X-Grafana-Alerting-Signature`). */
  signatureHeader?: string;
  /** Grafana: the timestamp header configured beside the HMAC secret, if any (then signed). */
  timestampHeader?: string | null;
  /** Storm guard: automatic runs per runbook and node per window (absent: 3 per 10 min). */
  runLimit?: RateLimit;
  /** Storm guard: alerts received per window before deliveries are held back (absent: 300 per 5 min). */
  ingestLimit?: RateLimit;
}

/**
 * A source of alerts (an Alertmanager receiver, a Grafana contact point, a PagerDuty webhook
 * subscription, a generic or CloudEvents sender): its URL is `/hooks/<type>/<id>`, its secret is
 * stored as a SHA-256 digest and sealed (for HMAC), never shown after it is set, and it acts as its own
 * service identity (the user `integration:<name>`), named on the audit trail.
 */
@Entity('alert_integrations')
export class IntegrationEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'alert_integrations_pkey' })
  id: string;

  @Index('alert_integrations_name_key', { unique: true })
  @Column({ type: 'varchar', length: 48 })
  name: string;

  @Column({ type: 'varchar', length: 32 })
  type: IntegrationType;

  /** hex SHA-256 of the secret; the secret itself is shown once, at creation. */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64, select: false })
  secretHash?: string;

  /**
   * The secret sealed (integration-secret.ts), for HMAC verification; never in a response.
   * Null for integrations made before it was stored (bearer/basic only until rotated).
   */
  @Column({ name: 'secret_ciphertext', type: 'bytea', nullable: true, select: false })
  secretCiphertext?: Buffer | null;

  @Column({ name: 'secret_iv', type: 'bytea', nullable: true, select: false })
  secretIv?: Buffer | null;

  @Column({ name: 'secret_auth_tag', type: 'bytea', nullable: true, select: false })
  secretAuthTag?: Buffer | null;

  /** The service identity: a user with roles like anyone's, without a password. */
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ type: 'jsonb' })
  settings: IntegrationSettings;

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'created_by', type: 'varchar', length: 128 })
  createdBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
