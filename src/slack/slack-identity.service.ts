import { createHash, randomInt } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { toPrincipal } from '../auth/auth.service.js';
import { UsersService } from '../auth/users.service.js';
import { LoginThrottleService } from '../auth/login-throttle.service.js';
import type { UserEntity } from '../auth/user.entity.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { Actor } from '../executions/executions.service.js';
import { SlackClient } from './slack-client.js';
import { SlackLinkCodeEntity, SlackLinkEntity } from './slack-link.entity.js';

/** Link codes: no 0/O, 1/I/L; 8 of these letters ≈ 40 bits, typed as XXXX-XXXX. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const LINK_CODE_TTL_SECONDS = 600;

const normalize = (code: string) => code.toUpperCase().replace(/[^A-Z0-9]/g, '');
const hashCode = (code: string) => createHash('sha256').update(normalize(code)).digest('hex');

export interface SlackAccount {
  teamId: string;
  userId: string;
}

/**
 * Who a Slack user is in Firebreak: links made with a one-time code the user creates while
 * signed in (`POST /me/slack/link-codes`, typed as `/runbook link CODE`), or, when an admin
 * enables SLACK_EMAIL_LINKING, by the verified e-mail Slack's users.info reports. The actor of
 * a linked account is the user as they are now (roles, groups; a disabled user is no actor).
 */
@Injectable()
export class SlackIdentityService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly abilities: AbilityFactory,
    private readonly audit: AuditService,
    private readonly client: SlackClient,
    private readonly throttle: LoginThrottleService,
  ) {}

  private get links() {
    return this.dataSource.getRepository(SlackLinkEntity);
  }

  /** A new one-time code for the signed-in user; it replaces the user's earlier codes. */
  async createCode(user: { id: string; username: string }, ctx: AuditContext) {
    let code = '';
    for (let i = 0; i < 8; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
    code = `${code.slice(0, 4)}-${code.slice(4)}`;
    const expiresAt = new Date(Date.now() + LINK_CODE_TTL_SECONDS * 1000);
    await this.dataSource.transaction(async (m) => {
      await m.delete(SlackLinkCodeEntity, { userId: user.id });
      await m.query(`DELETE FROM slack_link_codes WHERE expires_at < now() - interval '1 day'`);
      await m.insert(SlackLinkCodeEntity, {
        codeHash: hashCode(code),
        userId: user.id,
        expiresAt,
        usedAt: null,
      });
      await this.audit.record(
        ctx,
        {
          action: 'slack.link_code',
          subjectType: 'User',
          subjectId: user.id,
          details: { expiresAt: expiresAt.toISOString() },
        },
        m,
      );
    });
    return { code, expiresAt: expiresAt.toISOString(), command: `/runbook link ${code}` };
  }

  /**
   * Redeems a code for a Slack account: the code is used up whatever happens next. Attempts are
   * throttled per Slack account like logins (LOGIN_MAX_ATTEMPTS per LOGIN_WINDOW, then a
   * doubling block): a Slack user guessing codes is stopped, and a good code gives the attempt back.
   */
  async redeem(
    account: SlackAccount,
    code: string,
    ctx: Omit<AuditContext, 'actorId' | 'actorName'>,
  ): Promise<
    | { outcome: 'linked'; user: UserEntity }
    | { outcome: 'unknown' }
    | { outcome: 'throttled'; retryAfterSeconds: number }
  > {
    const key = `slack-link:${account.teamId}/${account.userId}`;
    const verdict = await this.throttle.reserve(key, key);
    if (!verdict.allowed) {
      await this.audit.record(
        { ...ctx, actorId: null, actorName: `slack:${account.teamId}/${account.userId}` },
        {
          action: 'slack.link',
          outcome: 'denied',
          subjectType: 'SlackAccount',
          subjectId: `${account.teamId}/${account.userId}`,
          details: {
            reason: 'too many link attempts',
            retryAfterSeconds: verdict.retryAfterSeconds,
          },
        },
      );
      return { outcome: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds };
    }
    const user = await this.dataSource.transaction(async (m) => {
      // An UPDATE answers [rows, count].
      const [rows] = await m.query<[Array<{ user_id: string }>, number]>(
        `UPDATE slack_link_codes SET used_at = now()
          WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id`,
        [hashCode(code)],
      );
      const userId = rows[0]?.user_id;
      const user = userId ? await this.users.findById(userId) : null;
      if (!user || user.disabled) {
        await this.audit.record(
          { ...ctx, actorId: null, actorName: `slack:${account.teamId}/${account.userId}` },
          {
            action: 'slack.link',
            outcome: 'denied',
            subjectType: 'SlackAccount',
            subjectId: `${account.teamId}/${account.userId}`,
            details: { reason: 'unknown, used or expired code' },
          },
        );
        return null;
      }
      await this.putLink(m, account, user.id, 'code');
      await this.audit.record(
        { ...ctx, actorId: user.id, actorName: user.username },
        {
          action: 'slack.link',
          subjectType: 'User',
          subjectId: user.id,
          details: { slackTeam: account.teamId, slackUser: account.userId, via: 'code' },
        },
        m,
      );
      return user;
    });
    if (!user) return { outcome: 'unknown' };
    await this.throttle.succeeded(key, key);
    return { outcome: 'linked', user };
  }

  private async putLink(
    m: DataSource['manager'],
    account: SlackAccount,
    userId: string,
    via: 'code' | 'email',
  ) {
    // One Slack account per user and one user per Slack account: a new link replaces both.
    await m.delete(SlackLinkEntity, { teamId: account.teamId, slackUserId: account.userId });
    await m.delete(SlackLinkEntity, { userId });
    await m.insert(SlackLinkEntity, {
      teamId: account.teamId,
      slackUserId: account.userId,
      userId,
      via,
    });
  }

  /** The Firebreak user a Slack account acts as, or null (unlinked, or the user is disabled). */
  async actorFor(
    account: SlackAccount,
    ctx: Omit<AuditContext, 'actorId' | 'actorName'>,
  ): Promise<Actor | null> {
    let link = await this.links.findOneBy({ teamId: account.teamId, slackUserId: account.userId });
    if (!link && this.config.slack.emailLinking) link = await this.linkByEmail(account, ctx);
    if (!link) return null;
    const user = await this.users.findById(link.userId);
    if (!user || user.disabled) return null;
    const principal = toPrincipal(user, 'slack');
    return {
      principal,
      ability: this.abilities.create(principal),
      audit: { ...ctx, actorId: user.id, actorName: user.username },
    };
  }

  /** users.info: a confirmed e-mail that exactly one enabled user has links the account. */
  private async linkByEmail(
    account: SlackAccount,
    ctx: Omit<AuditContext, 'actorId' | 'actorName'>,
  ): Promise<SlackLinkEntity | null> {
    if (!this.client.canPost) return null;
    let info: { user?: { is_email_confirmed?: boolean; profile?: { email?: string } } };
    try {
      // Inside Slack's 3 seconds: one short attempt.
      info = await this.client.call(
        'users.info',
        { user: account.userId },
        { attempts: 1, timeoutMs: 1500 },
      );
    } catch {
      return null;
    }
    const email = info.user?.profile?.email;
    if (!email || info.user?.is_email_confirmed !== true) return null;
    const user = await this.users.findByEmail(email);
    if (!user || user.disabled) return null;
    await this.dataSource.transaction(async (m) => {
      if (await m.findOneBy(SlackLinkEntity, { userId: user.id })) return;
      await this.putLink(m, account, user.id, 'email');
      await this.audit.record(
        { ...ctx, actorId: user.id, actorName: user.username },
        {
          action: 'slack.link',
          subjectType: 'User',
          subjectId: user.id,
          details: { slackTeam: account.teamId, slackUser: account.userId, via: 'email' },
        },
        m,
      );
    });
    return this.links.findOneBy({ teamId: account.teamId, slackUserId: account.userId });
  }

  /** The username a Slack account is linked to (an enabled user), or null. */
  async usernameOf(account: SlackAccount): Promise<string | null> {
    const l = await this.links.findOneBy({ teamId: account.teamId, slackUserId: account.userId });
    const user = l ? await this.users.findById(l.userId) : null;
    return user && !user.disabled ? user.username : null;
  }

  /** The link of a user, if any (for `GET /me/slack`). */
  linkOf(userId: string) {
    return this.links.findOneBy({ userId });
  }

  /** Removes the link of a user (themselves, or an admin), audited; false when there was none. */
  async unlinkUser(userId: string, ctx: AuditContext): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const link = await m.findOneBy(SlackLinkEntity, { userId });
      if (!link) return false;
      await m.delete(SlackLinkEntity, { id: link.id });
      await this.audit.record(
        ctx,
        {
          action: 'slack.unlink',
          subjectType: 'User',
          subjectId: userId,
          details: { slackTeam: link.teamId, slackUser: link.slackUserId },
        },
        m,
      );
      return true;
    });
  }
}
