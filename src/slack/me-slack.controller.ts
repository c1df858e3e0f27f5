import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { DomainException } from '../common/errors.js';
import { Audit, CurrentPrincipal } from '../auth/current.decorator.js';
import { SlackIdentityService } from './slack-identity.service.js';

/** Linking a Slack account, from the Firebreak side (the console's Settings → Slack page). */
@ApiTags('slack')
@ApiBearerAuth()
@Controller()
export class MeSlackController {
  constructor(
    private readonly identity: SlackIdentityService,
    private readonly audit: AuditService,
  ) {}

  @Post('me/slack/link-codes')
  @ApiOperation({
    summary:
      'A one-time code (10 minutes, one use) to type as `/runbook link CODE` in Slack; a signed-in session only',
  })
  async createCode(@CurrentPrincipal() p: Principal, @Audit() audit: AuditContext) {
    if (p.via !== 'session') {
      await this.audit.record(audit, {
        action: 'access.denied',
        outcome: 'denied',
        subjectType: 'User',
        subjectId: p.id,
        details: {
          attempted: 'slack.link_code',
          route: 'POST /me/slack/link-codes',
          reason: 'only a signed-in session links a Slack account',
          via: p.via,
        },
      });
      throw new DomainException(
        'FORBIDDEN',
        'only a signed-in session (POST /auth/login or the console) may create Slack link codes, not an API token',
      );
    }
    return this.identity.createCode(p, audit);
  }

  @Get('me/slack')
  @ApiOperation({ summary: 'Whether your user is linked to a Slack account, and which' })
  async mine(@CurrentPrincipal() p: Principal) {
    const l = await this.identity.linkOf(p.id);
    return l
      ? {
          linked: true,
          teamId: l.teamId,
          slackUserId: l.slackUserId,
          via: l.via,
          linkedAt: l.linkedAt.toISOString(),
        }
      : { linked: false };
  }

  @Delete('me/slack')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unlink your Slack account' })
  async unlinkMine(@CurrentPrincipal() p: Principal, @Audit() audit: AuditContext) {
    if (!(await this.identity.unlinkUser(p.id, audit)))
      throw new DomainException('NOT_FOUND', 'your user has no linked Slack account');
  }

  @Delete('users/:id/slack')
  @HttpCode(204)
  @CheckAbility('update', 'User')
  @ApiOperation({ summary: "Unlink a user's Slack account (admin)" })
  async unlinkUser(@Param('id', ParseUUIDPipe) id: string, @Audit() audit: AuditContext) {
    if (!(await this.identity.unlinkUser(id, audit)))
      throw new DomainException('NOT_FOUND', 'that user has no linked Slack account', { user: id });
  }
}
