import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClusterEntity } from './cluster.entity.js';
import { ClustersController } from './clusters.controller.js';
import { CredentialEntity } from './credential.entity.js';
import { CredentialsController } from './credentials.controller.js';
import { NodeEntity } from './node.entity.js';
import { NodesAcl } from './nodes.acl.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

/** Node inventory (file and API), clusters, node filters and the encrypted credential store. */
@Module({
  imports: [TypeOrmModule.forFeature([CredentialEntity, NodeEntity, ClusterEntity])],
  controllers: [NodesController, ClustersController, CredentialsController],
  providers: [NodesService, NodesAcl],
  exports: [NodesService],
})
export class NodesModule {}
