import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { AuditPageDto, AuditQueryDto, toAuditEntryDto } from './audit.dto.js';
import { AuditService, type VerifyResult } from './audit.service.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @CheckAbility('read', 'AuditEntry')
  @ApiOperation({ summary: 'Audit entries, newest first, filtered and paged' })
  @ApiOkResponse({ type: AuditPageDto })
  async list(@Query() q: AuditQueryDto): Promise<AuditPageDto> {
    const limit = q.limit ?? 100;
    const items = await this.audit.list({
      ...q,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      limit,
    });
    return {
      items: items.map(toAuditEntryDto),
      nextBefore: items.length === limit ? items[items.length - 1].id : null,
    };
  }

  @Get('verify')
  @CheckAbility('verify', 'AuditEntry')
  @ApiOperation({ summary: 'Walk the hash chain; names the first entry that does not match' })
  verify(): Promise<VerifyResult> {
    return this.audit.verify();
  }
}
