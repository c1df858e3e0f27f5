import { Module } from '@nestjs/common';
import { NodesModule } from '../nodes/nodes.module.js';
import { RunbooksAcl } from './runbooks.acl.js';
import { RunbooksController } from './runbooks.controller.js';
import { RunbooksService } from './runbooks.service.js';

@Module({
  imports: [NodesModule],
  controllers: [RunbooksController],
  providers: [RunbooksService, RunbooksAcl],
  exports: [RunbooksService],
})
export class RunbooksModule {}
