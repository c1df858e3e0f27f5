import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CheckAbility } from '../common/access/acl.decorator.js';
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
      'Change freezes from the reviewed freezes file: each with its window in effect now and its next one, and the file’s problems',
  })
  list() {
    return this.freezes.list();
  }
}
