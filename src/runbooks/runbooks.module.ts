import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NodesModule } from '../nodes/nodes.module.js';
import { FreezesController } from './freezes.controller.js';
import { FreezeEntity } from './freeze.entity.js';
import { FreezesService } from './freezes.service.js';
import { RunbookVersionEntity } from './runbook-version.entity.js';
import { RunbookEntity } from './runbook.entity.js';
import { RunbooksAcl } from './runbooks.acl.js';
import { RunbooksController } from './runbooks.controller.js';
import { RunbooksService } from './runbooks.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([RunbookEntity, RunbookVersionEntity, FreezeEntity]),
    NodesModule,
  ],
  controllers: [RunbooksController, FreezesController],
  providers: [RunbooksService, RunbooksAcl, FreezesService],
  exports: [RunbooksService, FreezesService],
})
export class RunbooksModule {}
