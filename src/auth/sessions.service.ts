import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { SessionEntity } from './session.entity.js';
import { UserEntity } from './user.entity.js';

/** Ended sessions are kept this long past their expiry (for forensics), then deleted. */
const KEEP_EXPIRED_MS = 24 * 3600 * 1000;

/**
 * Interactive sessions. Why a table rather than a per-user "session version" in the token: a
 * version can end all of a user's sessions but not one (logout on one laptop would end the
 * others), and says nothing about why a session ended. One indexed row per login, read with the
 * user in one query on every request (which already read the user), gives both, and each
 * ending is a conditional UPDATE in the same transaction as the change that causes it.
 */
@Injectable()
export class SessionsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Starts a session for a user who just proved their password; returns its id (`sid`). */
  async start(userId: string, ctx: AuditContext): Promise<SessionEntity> {
    const repo = this.dataSource.getRepository(SessionEntity);
    // Housekeeping on the way: sessions expired for a day are of no further use.
    await repo
      .createQueryBuilder()
      .delete()
      .where('expires_at < :before', { before: new Date(Date.now() - KEEP_EXPIRED_MS) })
      .execute();
    return repo.save(
      repo.create({
        userId,
        expiresAt: new Date(Date.now() + this.config.jwtTtlSeconds * 1000),
        endedAt: null,
        endReason: null,
        sourceIp: ctx.sourceIp?.slice(0, 64) ?? null,
      }),
    );
  }

  /**
   * The user behind a live session, or precisely why not. The user's own state comes first
   * (a disabled account says so), then the session's.
   */
  async resolve(sessionId: string | undefined, userId: string): Promise<UserEntity> {
    if (!sessionId || !/^[0-9a-f-]{36}$/i.test(sessionId))
      throw new DomainException(
        'AUTH_TOKEN_INVALID',
        'the session token names no session; log in again',
      );
    // One statement: findOne with a relation sends two (a DISTINCT id query, then the join).
    const session = await this.dataSource
      .getRepository(SessionEntity)
      .createQueryBuilder('s')
      .leftJoinAndSelect('s.user', 'user')
      .where('s.id = :id', { id: sessionId })
      .getOne();
    if (!session || session.userId !== userId || !session.user)
      throw new DomainException('AUTH_TOKEN_INVALID', 'unknown session; log in again');
    if (session.user.disabled)
      throw new DomainException('AUTH_USER_DISABLED', 'this account is disabled');
    if (session.endedAt)
      throw new DomainException(
        'AUTH_SESSION_ENDED',
        `the session was ended (${session.endReason ?? 'ended'}); log in again`,
      );
    if (session.expiresAt.getTime() <= Date.now())
      throw new DomainException('AUTH_TOKEN_EXPIRED', 'the session has expired; log in again');
    return session.user;
  }

  /** Ends one session (logout). Audited; a session already ended stays as it was. */
  async end(sessionId: string, ctx: AuditContext): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const ended = await m
        .createQueryBuilder()
        .update(SessionEntity)
        .set({ endedAt: () => 'now()', endReason: 'logged out' })
        .where('id = :id AND ended_at IS NULL', { id: sessionId })
        .execute();
      await this.audit.record(
        ctx,
        {
          action: 'auth.logout',
          subjectType: 'Session',
          subjectId: sessionId,
          details: { ended: (ended.affected ?? 0) > 0 },
        },
        m,
      );
    });
  }

  /**
   * Ends every live session of a user, in the caller's transaction (the user change that is the
   * reason). Returns how many were ended.
   */
  async endAllFor(m: EntityManager, userId: string, reason: string): Promise<number> {
    const ended = await m
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ endedAt: () => 'now()', endReason: reason.slice(0, 64) })
      .where('user_id = :userId AND ended_at IS NULL AND expires_at > now()', { userId })
      .execute();
    return ended.affected ?? 0;
  }
}
