import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit } from '../auth/current.decorator.js';
import { FreezesService } from './freezes.service.js';

@ApiTags('freezes')
@ApiBearerAuth()
@Controller('freezes')
export class FreezesController {
  constructor(private readonly freezes: FreezesService) {}

  @Get()
  @CheckAbility('read', 'Runbook')
  @ApiOperation({
    summary:
      'Change freezes from the reviewed freezes file and the API (source: file | api): each with its window in effect now and its next one, and the file’s problems',
  })
  list() {
    return this.freezes.list();
  }

  @Post()
  @CheckAbility('manage', 'Freeze')
  @ApiOperation({
    summary:
      'A change freeze (admins): the same fields as in freezes.yaml, checked the same way; audited',
  })
  create(@Body() body: unknown, @Audit() audit: AuditContext) {
    return this.freezes.create(body, audit);
  }

  @Patch(':name')
  @CheckAbility('manage', 'Freeze')
  @ApiOperation({
    summary:
      'Change an API freeze (admins): given fields replace, null removes, checked again; a file freeze is 409',
  })
  update(@Param('name') name: string, @Body() body: unknown, @Audit() audit: AuditContext) {
    return this.freezes.update(name, body, audit);
  }

  @Delete(':name')
  @HttpCode(204)
  @CheckAbility('manage', 'Freeze')
  @ApiOperation({ summary: 'Remove an API freeze (admins); a file freeze is 409; audited' })
  async remove(@Param('name') name: string, @Audit() audit: AuditContext) {
    await this.freezes.remove(name, audit);
  }
}
