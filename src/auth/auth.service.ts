import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { Principal } from '../common/access/ability.js';
import { verifyPassword } from './secrets.js';
import type { UserEntity } from './user.entity.js';
import { UsersService } from './users.service.js';

export interface JwtClaims {
  sub: string;
  username: string;
}

/** Failed logins allowed from one address, per window, as a multiple of the per-user limit. */
const IP_LIMIT_FACTOR = 4;

@Injectable()
export class AuthService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly audit: AuditService,
    private readonly jwt: JwtService,
  ) {}

  /**
   * Password login. Failures are audited, and the failure count in the audit log is the rate
   * limit (per username and per source address, over a sliding window), so it holds across
   * every api process without another store.
   */
  async login(username: string, password: string, ctx: AuditContext) {
    const name = username.trim().toLowerCase();
    const attemptCtx: AuditContext = { ...ctx, actorName: name.slice(0, 128) || 'anonymous' };
    const since = new Date(Date.now() - this.config.loginWindowSeconds * 1000);
    const [byUser, byIp] = await Promise.all([
      this.audit.count('auth.login', 'failure', since, { actorName: attemptCtx.actorName }),
      ctx.sourceIp
        ? this.audit.count('auth.login', 'failure', since, { sourceIp: ctx.sourceIp })
        : 0,
    ]);
    if (
      byUser >= this.config.loginMaxAttempts ||
      byIp >= this.config.loginMaxAttempts * IP_LIMIT_FACTOR
    ) {
      await this.audit.record(attemptCtx, {
        action: 'auth.login',
        outcome: 'denied',
        details: { reason: 'rate_limited' },
      });
      throw new DomainException(
        'RATE_LIMITED',
        `too many failed logins; try again in ${Math.ceil(this.config.loginWindowSeconds / 60)} minutes`,
        undefined,
        { 'Retry-After': String(this.config.loginWindowSeconds) },
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
    await this.users.recordLogin(user.id);
    await this.audit.record(
      { ...attemptCtx, actorId: user.id },
      {
        action: 'auth.login',
        subjectType: 'User',
        subjectId: user.id,
      },
    );
    const claims: JwtClaims = { sub: user.id, username: user.username };
    return {
      accessToken: await this.jwt.signAsync(claims),
      tokenType: 'Bearer' as const,
      expiresIn: this.config.jwtTtlSeconds,
    };
  }

  /** A session is only as good as its user: disabled users lose access at their next request. */
  async principalFromClaims(claims: JwtClaims): Promise<Principal> {
    const user = await this.users.findById(claims.sub);
    if (!user)
      throw new DomainException(
        'AUTH_TOKEN_INVALID',
        'the session belongs to a user that no longer exists',
      );
    if (user.disabled) throw new DomainException('AUTH_USER_DISABLED', 'this account is disabled');
    return toPrincipal(user, 'session');
  }
}

export function toPrincipal(user: UserEntity, via: Principal['via'], tokenId?: string): Principal {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    roles: user.roles,
    groups: user.groups,
    via,
    ...(tokenId ? { tokenId } : {}),
  };
}
