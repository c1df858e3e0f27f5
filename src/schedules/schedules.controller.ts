import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit, CurrentAbility, CurrentPrincipal } from '../auth/current.decorator.js';
import { DomainException } from '../common/errors.js';
import { SchedulesService } from './schedules.service.js';

function count(v: string | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new DomainException('VALIDATION_FAILED', `must be an integer from 1 to ${max}`, [
      { path: 'next', message: `must be an integer from 1 to ${max}` },
    ]);
  return n;
}

@ApiTags('schedules')
@ApiBearerAuth()
@Controller('schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Get()
  @CheckAbility('read', 'Runbook')
  @ApiOperation({
    summary:
      'Schedules of the runbooks you may see: the next fire times (UTC and the schedule’s zone), paused or not, the last fire and its run',
  })
  list(@Query('next') next: string | undefined, @CurrentAbility() ability: AppAbility) {
    return this.schedules.list(ability, count(next, 5, 50));
  }

  @Get(':id')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'One schedule (id RUNBOOK:NAME)' })
  get(
    @Param('id') id: string,
    @Query('next') next: string | undefined,
    @CurrentAbility() ability: AppAbility,
  ) {
    return this.schedules.get(id, ability, count(next, 5, 50));
  }

  @Get(':id/history')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({
    summary: 'Fire times, newest first: started (with the run), refused (why), skipped (missed)',
  })
  history(
    @Param('id') id: string,
    @Query('limit') limit: string | undefined,
    @CurrentAbility() ability: AppAbility,
  ) {
    return this.schedules.history(id, ability, count(limit, 50, 500));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @CheckAbility('read', 'Runbook') // the concrete check (may run this runbook) is the service's
  @ApiOperation({ summary: 'Pause: no fires until resumed (who may run the runbook; audited)' })
  pause(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ) {
    return this.schedules.setPaused(id, true, { principal, ability, audit });
  }

  @Post(':id/resume')
  @HttpCode(200)
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'Resume: fires from now on; times while paused are not caught up' })
  resume(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ) {
    return this.schedules.setPaused(id, false, { principal, ability, audit });
  }
}
