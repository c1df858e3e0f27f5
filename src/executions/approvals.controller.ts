import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit, CurrentAbility, CurrentPrincipal } from '../auth/current.decorator.js';
import { ApprovalQueryDto, DecideApprovalDto } from './approvals.dto.js';
import { ApprovalsService, type ApprovalView } from './approvals.service.js';

@ApiTags('approvals')
@ApiBearerAuth()
@Controller()
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  @Post('executions/:id/approvals')
  @HttpCode(200)
  @CheckAbility('approve', 'Runbook')
  @ApiOperation({
    summary: 'Approve or reject a waiting execution (never your own; only as one of its approvers)',
  })
  decide(
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: DecideApprovalDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<ApprovalView> {
    return this.approvals.decide(
      id,
      { decision: body.decision, comment: body.comment, choice: body.choice },
      { principal, ability, audit },
    );
  }

  @Get('approvals')
  @CheckAbility('approve', 'Runbook')
  @ApiOperation({ summary: 'Approval requests you may decide (pending by default)' })
  list(
    @Query() q: ApprovalQueryDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<ApprovalView[]> {
    return this.approvals.list(q.state ?? 'pending', { principal, ability });
  }
}
