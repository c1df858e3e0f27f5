import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { Principal } from '../common/access/ability.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { verifyPassword } from './secrets.js';
import { SessionsService } from './sessions.service.js';
import type { UserEntity } from './user.entity.js';
import { UsersService } from './users.service.js';

export interface JwtClaims {
  sub: string;
  username: string;
  /** The session (auth_sessions.id) this token belongs to; checked on every request. */
  sid?: string;
}

@Injectable()
export class AuthService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly throttle: LoginThrottleService,
    private readonly audit: AuditService,
    private readonly jwt: JwtService,
  ) {}

  /**
   * Password login. The attempt is counted before the password is checked, per (username,
   * source) and per source, in one statement (LoginThrottleService), so parallel guesses cannot
   * overshoot and a flood from one address never locks the user out from another. Failures and
   * refusals are audited.
   */
  async login(username: string, password: string, ctx: AuditContext) {
    const name = username.trim().toLowerCase();
    const attemptCtx: AuditContext = { ...ctx, actorName: name.slice(0, 128) || 'anonymous' };
    const source = ctx.sourceIp ?? 'unknown';
    const verdict = await this.throttle.reserve(name, source);
    if (!verdict.allowed) {
      await this.audit.record(attemptCtx, {
        action: 'auth.login',
        outcome: 'denied',
        details: {
          reason: 'rate_limited',
          scope: verdict.scope,
          retryAfter: verdict.retryAfterSeconds,
        },
      });
      const from =
        verdict.scope === 'source' ? 'from this address' : 'for this user from this address';
      throw new DomainException(
        'RATE_LIMITED',
        `too many failed logins ${from}; try again in ${humanSeconds(verdict.retryAfterSeconds)}`,
        { scope: verdict.scope, retryAfter: verdict.retryAfterSeconds },
        { 'Retry-After': String(verdict.retryAfterSeconds) },
      );
    }
    const user = await this.users.findByUsername(name);
    const ok = await verifyPassword(user?.passwordHash ?? null, password);
    if (!user || !ok || user.disabled) {
      await this.audit.record(attemptCtx, {
        action: 'auth.login',
        outcome: 'failure',
        subjectType: user ? 'User' : null,
        subjectId: user?.id ?? null,
        details: { reason: !user || !ok ? 'bad_credentials' : 'user_disabled' },
      });
      // One message for all three: no hint which usernames exist.
      throw new DomainException(
        'AUTH_INVALID_CREDENTIALS',
        'wrong username or password, or the account is disabled',
      );
    }
    await this.throttle.succeeded(name, source);
    await this.users.recordLogin(user.id);
    const session = await this.sessions.start(user.id, ctx);
    await this.audit.record(
      { ...attemptCtx, actorId: user.id },
      {
        action: 'auth.login',
        subjectType: 'User',
        subjectId: user.id,
        details: { session: session.id },
      },
    );
    const claims: JwtClaims = { sub: user.id, username: user.username, sid: session.id };
    return {
      accessToken: await this.jwt.signAsync(claims),
      tokenType: 'Bearer' as const,
      expiresIn: this.config.jwtTtlSeconds,
      sessionId: session.id,
    };
  }

  /**
   * A session is only as good as its row and its user: logout, a password, role or group
   * change, or disabling the user ends it at the next request.
   */
  async principalFromClaims(claims: JwtClaims): Promise<Principal> {
    const user = await this.sessions.resolve(claims.sid, claims.sub);
    return toPrincipal(user, 'session', undefined, claims.sid);
  }
}

function humanSeconds(s: number): string {
  if (s < 120) return `${s} seconds`;
  if (s < 7200) return `${Math.ceil(s / 60)} minutes`;
  return `${Math.ceil(s / 3600)} hours`;
}

export function toPrincipal(
  user: UserEntity,
  via: Principal['via'],
  tokenId?: string,
  sessionId?: string,
): Principal {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    roles: user.roles,
    groups: user.groups,
    via,
    ...(tokenId ? { tokenId } : {}),
    ...(sessionId ? { sessionId } : {}),
  };
}
