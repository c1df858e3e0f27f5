import { Module } from '@nestjs/common';
import { RunbooksAcl } from './runbooks.acl.js';
import { RunbooksController } from './runbooks.controller.js';
import { RunbooksService } from './runbooks.service.js';

@Module({
  controllers: [RunbooksController],
  providers: [RunbooksService, RunbooksAcl],
  exports: [RunbooksService],
})
export class RunbooksModule {}
