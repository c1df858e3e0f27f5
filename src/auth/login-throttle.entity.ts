import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Login attempts per (username, source address) and per source address, in the current window.
 * Written only by the one-statement upsert in `LoginThrottleService.reserve`, so parallel
 * guesses cannot overshoot the limit; see that service for the rules.
 */
@Entity('login_throttle')
export class LoginThrottleEntity {
  /** `user`: one username from one source address; `source`: everything from that address. */
  @PrimaryColumn({ type: 'varchar', length: 8, primaryKeyConstraintName: 'login_throttle_pkey' })
  scope: 'user' | 'source';

  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'login_throttle_pkey' })
  source: string;

  /** Lower-case username for scope `user`; empty for scope `source`. */
  @PrimaryColumn({ type: 'varchar', length: 128, primaryKeyConstraintName: 'login_throttle_pkey' })
  username: string;

  /** Attempts counted in the window that started at `windowStartedAt`. */
  @Column({ type: 'integer' })
  attempts: number;

  @Column({ name: 'window_started_at', type: 'timestamptz' })
  windowStartedAt: Date;

  /** Refused until then; each block lasts twice as long as the one before (backoff). */
  @Column({ name: 'blocked_until', type: 'timestamptz', nullable: true })
  blockedUntil: Date | null;

  /** Blocks so far, the backoff exponent; reset by a successful login or a quiet day. */
  @Column({ type: 'integer', default: 0 })
  lockouts: number;
}
