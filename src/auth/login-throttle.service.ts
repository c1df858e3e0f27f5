import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/** Attempts allowed from one source address per window, as a multiple of the per-user limit. */
export const SOURCE_LIMIT_FACTOR = 4;
/** Backoff doubles each block up to 2^6 = 64 windows. */
const MAX_BACKOFF_EXPONENT = 6;
/** How often one process deletes rows nobody has used for a day. */
const CLEANUP_EVERY_MS = 10 * 60 * 1000;

export type ThrottleVerdict =
  { allowed: true } | { allowed: false; scope: 'user' | 'source'; retryAfterSeconds: number };

/**
 * Login throttling, counted in two places at once: per (username, source address), limit
 * LOGIN_MAX_ATTEMPTS per LOGIN_WINDOW, and per source address, SOURCE_LIMIT_FACTOR times that.
 * Nothing counts a username across sources, so a flood of bad passwords from one address blocks
 * that address, never the real user elsewhere: throttling is no lockout lever.
 *
 * An attempt is reserved before the password is checked, by ONE statement that upserts both
 * rows and decides from the row it locked: parallel guesses queue on the row lock and exactly
 * LOGIN_MAX_ATTEMPTS of them get through. The attempt past the limit starts a block of
 * LOGIN_WINDOW × 2^lockouts (backoff); attempts during a block change nothing. A successful
 * login gives its reservation back (the pair row is deleted, the source count is decremented),
 * so an office behind one address is not blocked by its own good logins.
 */
@Injectable()
export class LoginThrottleService {
  private lastCleanup = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async reserve(username: string, source: string): Promise<ThrottleVerdict> {
    const rows = await this.dataSource.query<
      Array<{ scope: 'user' | 'source'; retryAfter: number | null }>
    >(
      `INSERT INTO login_throttle AS t (scope, source, username, attempts, window_started_at, lockouts)
       VALUES ('source', $1, '', 1, now(), 0), ('user', $1, $2, 1, now(), 0)
       ON CONFLICT (scope, source, username) DO UPDATE SET
         attempts = CASE
           WHEN t.blocked_until > now() THEN t.attempts
           WHEN t.window_started_at <= now() - make_interval(secs => $3::float8) THEN 1
           ELSE t.attempts + 1 END,
         window_started_at = CASE
           WHEN t.blocked_until > now() THEN t.window_started_at
           WHEN t.window_started_at <= now() - make_interval(secs => $3::float8) THEN now()
           ELSE t.window_started_at END,
         lockouts = CASE
           WHEN t.blocked_until > now() THEN t.lockouts
           WHEN t.window_started_at <= now() - interval '1 day' THEN 0
           WHEN t.window_started_at <= now() - make_interval(secs => $3::float8) THEN t.lockouts
           WHEN t.attempts + 1 > (CASE WHEN t.scope = 'source' THEN $5::int ELSE $4::int END)
             THEN t.lockouts + 1
           ELSE t.lockouts END,
         blocked_until = CASE
           WHEN t.blocked_until > now() THEN t.blocked_until
           WHEN t.window_started_at <= now() - make_interval(secs => $3::float8) THEN NULL
           WHEN t.attempts + 1 > (CASE WHEN t.scope = 'source' THEN $5::int ELSE $4::int END)
             THEN now() + make_interval(secs => $3::float8 * power(2, LEAST(t.lockouts, ${MAX_BACKOFF_EXPONENT})))
           ELSE NULL END
       RETURNING scope, ceil(extract(epoch FROM t.blocked_until - now()))::int AS "retryAfter"`,
      [
        source.slice(0, 64),
        username.slice(0, 128),
        this.config.loginWindowSeconds,
        this.config.loginMaxAttempts,
        this.config.loginMaxAttempts * SOURCE_LIMIT_FACTOR,
      ],
    );
    const blocked = rows
      .filter((r) => r.retryAfter !== null && r.retryAfter > 0)
      .sort((a, b) => b.retryAfter! - a.retryAfter!)[0];
    if (!blocked) return { allowed: true };
    return { allowed: false, scope: blocked.scope, retryAfterSeconds: blocked.retryAfter! };
  }

  /** A successful login gives its reservation back. */
  async succeeded(username: string, source: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM login_throttle WHERE scope = 'user' AND source = $1 AND username = $2`,
      [source.slice(0, 64), username.slice(0, 128)],
    );
    await this.dataSource.query(
      `UPDATE login_throttle SET attempts = GREATEST(attempts - 1, 0)
        WHERE scope = 'source' AND source = $1 AND (blocked_until IS NULL OR blocked_until <= now())`,
      [source.slice(0, 64)],
    );
    if (Date.now() - this.lastCleanup > CLEANUP_EVERY_MS) {
      this.lastCleanup = Date.now();
      await this.dataSource.query(
        `DELETE FROM login_throttle WHERE window_started_at < now() - interval '1 day'
            AND (blocked_until IS NULL OR blocked_until < now())`,
      );
    }
  }
}
