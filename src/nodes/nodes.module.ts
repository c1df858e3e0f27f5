import { Module } from '@nestjs/common';
import { ClustersController } from './clusters.controller.js';
import { CredentialsController } from './credentials.controller.js';
import { NodesAcl } from './nodes.acl.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

/** Node inventory (file and API), clusters, node filters and the encrypted credential store. */
@Module({
  controllers: [NodesController, ClustersController, CredentialsController],
  providers: [NodesService, NodesAcl],
  exports: [NodesService],
})
export class NodesModule {}
