import { Module } from '@nestjs/common';
import { RunbooksModule } from '../runbooks/runbooks.module.js';
import { ImportController } from './import.controller.js';

/** `POST /runbooks/import`: the importers of `firebreak import`, over the API. */
@Module({
  imports: [RunbooksModule],
  controllers: [ImportController],
})
export class ImportModule {}
