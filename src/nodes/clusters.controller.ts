import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit } from '../auth/current.decorator.js';
import { GROUP_NAME_RE } from './inventory.schema.js';
import { ClusterDto, CreateClusterDto, toClusterDto, UpdateClusterDto } from './nodes.dto.js';
import { ClustersService } from './clusters.service.js';
import { checkRef } from './refs.js';

const clusterRef = (ref: string) => checkRef(ref, GROUP_NAME_RE, 'cluster');

@ApiTags('clusters')
@ApiBearerAuth()
@Controller('clusters')
export class ClustersController {
  constructor(private readonly clusters: ClustersService) {}

  @Get()
  @CheckAbility('read', 'Cluster')
  @ApiOperation({ summary: 'Clusters (named node groups) with their current members' })
  @ApiOkResponse({ type: ClusterDto, isArray: true })
  async list(): Promise<ClusterDto[]> {
    return (await this.clusters.listClusters()).map((c) => toClusterDto(c.cluster, c.members));
  }

  @Post()
  @CheckAbility('create', 'Cluster')
  @ApiOperation({ summary: 'Create a cluster from node names/globs or a node filter (admin)' })
  @ApiOkResponse({ type: ClusterDto })
  async create(@Body() body: CreateClusterDto, @Audit() ctx: AuditContext): Promise<ClusterDto> {
    const c = await this.clusters.createCluster(body, ctx);
    return toClusterDto(c.cluster, c.members);
  }

  @Get(':ref')
  @CheckAbility('read', 'Cluster')
  @ApiOperation({ summary: 'A cluster by id or name, with its members' })
  @ApiOkResponse({ type: ClusterDto })
  async get(@Param('ref') ref: string): Promise<ClusterDto> {
    const c = await this.clusters.getCluster(clusterRef(ref));
    return toClusterDto(c.cluster, c.members);
  }

  @Patch(':ref')
  @CheckAbility('update', 'Cluster')
  @ApiOperation({
    summary: 'Edit a cluster (admin); inventory-file clusters are edited in the file',
  })
  @ApiOkResponse({ type: ClusterDto })
  async update(
    @Param('ref') ref: string,
    @Body() body: UpdateClusterDto,
    @Audit() ctx: AuditContext,
  ): Promise<ClusterDto> {
    const c = await this.clusters.updateCluster(clusterRef(ref), body, ctx);
    return toClusterDto(c.cluster, c.members);
  }

  @Delete(':ref')
  @HttpCode(204)
  @CheckAbility('delete', 'Cluster')
  @ApiOperation({ summary: 'Delete a cluster (admin); its nodes stay' })
  @ApiNoContentResponse()
  async delete(@Param('ref') ref: string, @Audit() ctx: AuditContext): Promise<void> {
    await this.clusters.deleteCluster(clusterRef(ref), ctx);
  }
}
