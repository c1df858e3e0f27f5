import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException, notFound } from '../common/errors.js';
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
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw new DomainException('VALIDATION_FAILED', 'expiresAt: must be in the future', [
        { path: 'expiresAt', message: 'must be in the future' },
      ]);
    }
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
          expiresAt: input.expiresAt ?? null,
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
            expiresAt: saved.expiresAt?.toISOString() ?? null,
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

  /** Resolves a presented token to its user, or says precisely why not. */
  async authenticate(presented: string): Promise<{ user: UserEntity; token: ApiTokenEntity }> {
    if (!presented.startsWith(API_TOKEN_PREFIX))
      throw new DomainException('AUTH_TOKEN_INVALID', 'not a Firebreak API token');
    const token = await this.repo.findOneBy({ tokenHash: hashApiToken(presented) });
    if (!token) throw new DomainException('AUTH_TOKEN_INVALID', 'unknown API token');
    if (token.revokedAt)
      throw new DomainException('AUTH_TOKEN_REVOKED', `API token ${token.prefix}… was revoked`);
    if (token.expiresAt && token.expiresAt.getTime() <= Date.now()) {
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
