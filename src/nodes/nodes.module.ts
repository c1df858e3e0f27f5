import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClusterEntity } from './cluster.entity.js';
import { ClustersController } from './clusters.controller.js';
import { ClustersService } from './clusters.service.js';
import { CredentialEntity } from './credential.entity.js';
import { CredentialsController } from './credentials.controller.js';
import { CredentialsService } from './credentials.service.js';
import { HostKeysService } from './host-keys.service.js';
import { InventorySyncService } from './inventory-sync.service.js';
import { LocalNodeService } from './local-node.service.js';
import { NodeEntity } from './node.entity.js';
import { NodeTargetsService } from './node-targets.service.js';
import { NodesAcl } from './nodes.acl.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

/**
 * Node inventory (file and API), clusters, node filters and the encrypted credential store.
 * Other modules use target resolution and connection details (NodeTargetsService) and host
 * key pinning (HostKeysService).
 */
@Module({
  imports: [TypeOrmModule.forFeature([CredentialEntity, NodeEntity, ClusterEntity])],
  controllers: [NodesController, ClustersController, CredentialsController],
  providers: [
    NodesService,
    ClustersService,
    CredentialsService,
    HostKeysService,
    InventorySyncService,
    LocalNodeService,
    NodeTargetsService,
    NodesAcl,
  ],
  exports: [NodeTargetsService, HostKeysService],
})
export class NodesModule {}
