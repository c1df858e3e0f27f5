import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { subject } from '@casl/ability';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import { DomainException, notFound } from '../common/errors.js';
import type { AppAbility } from '../common/access/ability.js';
import { ApiTokensService } from './api-tokens.service.js';
import { generatePassword, hashPassword } from './secrets.js';
import { SessionsService } from './sessions.service.js';
import type { CreateUserDto, UpdateUserDto } from './users.dto.js';
import { UserEntity } from './user.entity.js';

@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly sessions: SessionsService,
    private readonly tokens: ApiTokensService,
  ) {}

  private get repo() {
    return this.dataSource.getRepository(UserEntity);
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.repo.findOneBy({ id });
  }

  findByUsername(username: string): Promise<UserEntity | null> {
    return this.repo.findOneBy({ username: username.toLowerCase() });
  }

  /** The one user with this e-mail (case-insensitive), or null when none or several have it. */
  async findByEmail(email: string): Promise<UserEntity | null> {
    const rows = await this.repo
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email })
      .limit(2)
      .getMany();
    return rows.length === 1 ? rows[0] : null;
  }

  list(): Promise<UserEntity[]> {
    return this.repo.find({ order: { username: 'ASC' } });
  }

  async get(id: string, ability: AppAbility): Promise<UserEntity> {
    const user = await this.findById(id);
    // Same answer for "absent" and "not yours": no probing for user ids.
    if (!user || !ability.can('read', subject('User', { id: user.id }))) throw notFound('User', id);
    return user;
  }

  async create(dto: CreateUserDto, ctx: AuditContext): Promise<UserEntity> {
    const passwordHash = dto.password ? await hashPassword(dto.password) : null;
    return this.dataSource.transaction(async (m) => {
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(UserEntity)
        .values({
          username: dto.username,
          displayName: dto.displayName,
          email: dto.email ?? null,
          passwordHash,
          roles: dto.roles,
          groups: dto.groups ?? [],
        })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length === 0) {
        throw new DomainException(
          'CONFLICT',
          `user ${JSON.stringify(dto.username)} already exists`,
          { username: dto.username },
        );
      }
      const user = await m.findOneByOrFail(UserEntity, { id: inserted.raw[0].id as string });
      await this.audit.record(
        ctx,
        {
          action: 'user.create',
          subjectType: 'User',
          subjectId: user.id,
          details: {
            username: user.username,
            roles: user.roles,
            groups: user.groups,
            hasPassword: Boolean(dto.password),
          },
        },
        m,
      );
      return user;
    });
  }

  async update(id: string, dto: UpdateUserDto, ctx: AuditContext): Promise<UserEntity> {
    const passwordHash = dto.password ? await hashPassword(dto.password) : undefined;
    return this.dataSource.transaction(async (m) => {
      const user = await m.findOne(UserEntity, {
        where: { id },
        lock: { mode: 'pessimistic_write' },
      });
      if (!user) throw notFound('User', id);
      const before = {
        displayName: user.displayName,
        email: user.email,
        roles: user.roles,
        groups: user.groups,
        disabled: user.disabled,
      };
      if (dto.displayName !== undefined) user.displayName = dto.displayName;
      if (dto.email !== undefined) user.email = dto.email;
      if (dto.roles !== undefined) user.roles = dto.roles;
      if (dto.groups !== undefined) user.groups = dto.groups;
      if (dto.disabled !== undefined) user.disabled = dto.disabled;
      if (passwordHash) user.passwordHash = passwordHash;
      await this.assertAnAdminRemains(m, user);
      await m.save(user);
      const changed = Object.fromEntries(
        Object.entries(before)
          .filter(
            ([k, v]) =>
              JSON.stringify(v) !== JSON.stringify((user as unknown as Record<string, unknown>)[k]),
          )
          .map(([k, v]) => [k, { from: v, to: (user as unknown as Record<string, unknown>)[k] }]),
      );
      if (passwordHash) changed.password = { from: '***', to: '***' };
      // What the user's sessions were granted on no longer holds: they end at the next request.
      // Disabling also revokes the user's API tokens, so re-enabling brings none of them back.
      const disabledNow = user.disabled && !before.disabled;
      const reasons = [
        ...(passwordHash ? ['password changed'] : []),
        ...(changed.roles ? ['roles changed'] : []),
        ...(changed.groups ? ['groups changed'] : []),
        ...(disabledNow ? ['user disabled'] : []),
      ];
      const sessionsEnded =
        reasons.length > 0 ? await this.sessions.endAllFor(m, user.id, reasons.join(', ')) : 0;
      const tokensRevoked = disabledNow ? await this.tokens.revokeAllFor(m, user.id) : 0;
      await this.audit.record(
        ctx,
        {
          action: disabledNow ? 'user.disable' : 'user.update',
          subjectType: 'User',
          subjectId: user.id,
          details: {
            username: user.username,
            changed,
            ...(reasons.length > 0 ? { sessionsEnded, sessionsEndedBecause: reasons } : {}),
            ...(disabledNow ? { tokensRevoked } : {}),
          },
        },
        m,
      );
      return user;
    });
  }

  /** Refuses a change that would leave no enabled admin: nobody could manage users any more. */
  private async assertAnAdminRemains(m: EntityManager, user: UserEntity) {
    if (!user.disabled && user.roles.includes('admin')) return;
    const others = await m
      .createQueryBuilder(UserEntity, 'u')
      .where("'admin' = ANY(u.roles) AND NOT u.disabled AND u.id <> :id", { id: user.id })
      .getCount();
    if (others === 0) {
      throw new DomainException(
        'CONFLICT',
        'this change would leave no enabled admin; make another user admin first',
        {
          userId: user.id,
        },
      );
    }
  }

  async recordLogin(id: string): Promise<void> {
    await this.repo.update({ id }, { lastLoginAt: new Date() });
  }

  /**
   * On the first start, creates `admin` with FIREBREAK_ADMIN_PASSWORD or a generated password
   * that is printed once. Safe when several processes start together: only one insert wins.
   */
  async ensureInitialAdmin(
    configuredPassword: string | undefined,
  ): Promise<{ created: boolean; password?: string }> {
    if ((await this.repo.count()) > 0) return { created: false };
    const password = configuredPassword ?? generatePassword();
    const passwordHash = await hashPassword(password);
    return this.dataSource.transaction(async (m) => {
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(UserEntity)
        .values({
          username: 'admin',
          displayName: 'Administrator',
          passwordHash,
          roles: ['admin'],
          groups: [],
        })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length === 0) return { created: false };
      await this.audit.record(
        SYSTEM_ACTOR,
        {
          action: 'user.create',
          subjectType: 'User',
          subjectId: inserted.raw[0].id as string,
          details: {
            username: 'admin',
            roles: ['admin'],
            initial: true,
            passwordSource: configuredPassword ? 'env' : 'generated',
          },
        },
        m,
      );
      this.logger.log('created the initial admin user');
      return { created: true, password: configuredPassword ? undefined : password };
    });
  }
}
