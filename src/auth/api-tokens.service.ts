import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException, notFound } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ApiTokenEntity } from './api-token.entity.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { API_TOKEN_PREFIX, generateApiToken, hashApiToken } from './secrets.js';
import { UserEntity } from './user.entity.js';

/** How often last_used_at is refreshed, so a busy script does not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_TOKENS_PER_USER = 50;

@Injectable()
export class ApiTokensService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  private get repo() {
    return this.dataSource.getRepository(ApiTokenEntity);
  }

  async create(
    owner: Principal,
    input: { name: string; expiresAt?: Date },
    ctx: AuditContext,
  ): Promise<{ entity: ApiTokenEntity; token: string }> {
    // Only a person who just proved their password mints tokens: a token that could mint tokens
    // would let a thief outlive the revocation of the one they stole.
    if (owner.via !== 'session') {
      const reason =
        'API tokens are created only from an interactive session (POST /auth/login), not with an API token';
      await this.audit.record(ctx, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'ApiToken',
        details: { attempted: 'create', route: 'POST /auth/tokens', reason, via: owner.via },
      });
      throw new DomainException('FORBIDDEN', reason, { action: 'create', subject: 'ApiToken' });
    }
    const now = Date.now();
    const maxMs = this.config.tokenMaxTtlSeconds * 1000;
    if (input.expiresAt && input.expiresAt.getTime() <= now) {
      throw new DomainException('VALIDATION_FAILED', 'expiresAt: must be in the future', [
        { path: 'expiresAt', message: 'must be in the future' },
      ]);
    }
    if (input.expiresAt && input.expiresAt.getTime() > now + maxMs) {
      const message = `must be at most ${humanDuration(this.config.tokenMaxTtlSeconds)} from now (TOKEN_MAX_TTL)`;
      throw new DomainException('VALIDATION_FAILED', `expiresAt: ${message}`, [
        { path: 'expiresAt', message },
      ]);
    }
    const expiresAt = input.expiresAt ?? new Date(now + this.config.tokenDefaultTtlSeconds * 1000);
    const { token, hash, prefix } = generateApiToken();
    const entity = await this.dataSource.transaction(async (m) => {
      const active = await m
        .createQueryBuilder(ApiTokenEntity, 't')
        .where('t.user_id = :id AND t.revoked_at IS NULL', { id: owner.id })
        .getCount();
      if (active >= MAX_TOKENS_PER_USER) {
        throw new DomainException(
          'CONFLICT',
          `you already have ${active} active tokens; revoke one first`,
        );
      }
      const saved = await m.save(
        m.create(ApiTokenEntity, {
          userId: owner.id,
          name: input.name,
          tokenHash: hash,
          prefix,
          expiresAt,
        }),
      );
      await this.audit.record(
        ctx,
        {
          action: 'token.create',
          subjectType: 'ApiToken',
          subjectId: saved.id,
          details: {
            name: saved.name,
            prefix,
            owner: owner.username,
            expiresAt: saved.expiresAt.toISOString(),
          },
        },
        m,
      );
      return saved;
    });
    return { entity, token };
  }

  /** The caller's own tokens, or a given user's for an admin. */
  listFor(userId: string): Promise<ApiTokenEntity[]> {
    return this.repo.find({ where: { userId }, order: { createdAt: 'DESC' } });
  }

  async revoke(id: string, ability: AppAbility, ctx: AuditContext): Promise<ApiTokenEntity> {
    return this.dataSource.transaction(async (m) => {
      const token = await m.findOne(ApiTokenEntity, {
        where: { id },
        lock: { mode: 'pessimistic_write' },
      });
      if (!token || !ability.can('delete', subject('ApiToken', { userId: token.userId }))) {
        throw notFound('ApiToken', id);
      }
      if (!token.revokedAt) {
        token.revokedAt = new Date();
        await m.save(token);
        await this.audit.record(
          ctx,
          {
            action: 'token.revoke',
            subjectType: 'ApiToken',
            subjectId: token.id,
            details: { name: token.name, prefix: token.prefix, ownerId: token.userId },
          },
          m,
        );
      }
      return token;
    });
  }

  /**
   * Revokes every active token of a user, in the caller's transaction (disabling the user), so
   * re-enabling the account later does not bring back a token that may have leaked meanwhile.
   */
  async revokeAllFor(m: EntityManager, userId: string): Promise<number> {
    const revoked = await m
      .createQueryBuilder()
      .update(ApiTokenEntity)
      .set({ revokedAt: () => 'now()' })
      .where('user_id = :userId AND revoked_at IS NULL', { userId })
      .execute();
    return revoked.affected ?? 0;
  }

  /** Resolves a presented token to its user, or says precisely why not. */
  async authenticate(presented: string): Promise<{ user: UserEntity; token: ApiTokenEntity }> {
    if (!presented.startsWith(API_TOKEN_PREFIX))
      throw new DomainException('AUTH_TOKEN_INVALID', 'not a Firebreak API token');
    // The whole token is compared, through its SHA-256: the lookup is by the full digest, and the
    // stored digest is compared again in constant time (never a prefix, never with ===).
    const digest = hashApiToken(presented);
    const token = await this.repo.findOneBy({ tokenHash: digest });
    if (!token || !timingSafeEqual(Buffer.from(token.tokenHash, 'hex'), Buffer.from(digest, 'hex')))
      throw new DomainException('AUTH_TOKEN_INVALID', 'unknown API token');
    if (token.revokedAt)
      throw new DomainException('AUTH_TOKEN_REVOKED', `API token ${token.prefix}… was revoked`);
    if (token.expiresAt.getTime() <= Date.now()) {
      throw new DomainException(
        'AUTH_TOKEN_EXPIRED',
        `API token ${token.prefix}… expired at ${token.expiresAt.toISOString()}`,
      );
    }
    const user = await this.dataSource.getRepository(UserEntity).findOneBy({ id: token.userId });
    if (!user || user.disabled)
      throw new DomainException('AUTH_USER_DISABLED', 'the token belongs to a disabled user');
    if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.repo.update({ id: token.id }, { lastUsedAt: new Date() });
    }
    return { user, token };
  }
}

function humanDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}
