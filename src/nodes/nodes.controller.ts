import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit } from '../auth/current.decorator.js';
import { NODE_NAME_RE } from './inventory.schema.js';
import { parseNodeQuery } from './node-query.js';
import {
  AnsibleImportDto,
  CreateNodeDto,
  NodeDto,
  NodeFilterDto,
  RundeckImportDto,
  toNodeDto,
  UpdateNodeDto,
} from './nodes.dto.js';
import { HostKeysService } from './host-keys.service.js';
import {
  InventorySyncService,
  type AnsibleImportReport,
  type InventorySyncReport,
  type NodeImportReport,
} from './inventory-sync.service.js';
import { NodesService } from './nodes.service.js';
import { checkRef } from './refs.js';

const nodeRef = (ref: string) => checkRef(ref, NODE_NAME_RE, 'node');

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('nodes')
export class NodesController {
  constructor(
    private readonly nodes: NodesService,
    private readonly inventory: InventorySyncService,
    private readonly hostKeys: HostKeysService,
  ) {}

  @Get()
  @CheckAbility('read', 'Node')
  @ApiOperation({
    summary: 'Nodes, filtered by name glob, tags, attributes (attr.NAME=value), cluster or filter',
  })
  @ApiQuery({ name: 'name', required: false, description: 'Name or glob (web-*); repeatable' })
  @ApiQuery({ name: 'tag', required: false, description: 'Carries this tag; repeat for all of' })
  @ApiQuery({ name: 'tagAny', required: false, description: 'Carries one of these; repeatable' })
  @ApiQuery({ name: 'cluster', required: false })
  @ApiQuery({ name: 'exclude', required: false, description: 'Name or glob to leave out' })
  @ApiQuery({
    name: 'attr.environment',
    required: false,
    description: 'Attribute equality: attr.NAME=value, for any attribute name',
  })
  @ApiQuery({
    name: 'filter',
    required: false,
    description: 'The whole node filter as JSON, instead of the parameters above',
  })
  @ApiQuery({ name: 'includeDisabled', required: false, enum: ['true', 'false'] })
  @ApiOkResponse({ type: NodeDto, isArray: true })
  async list(@Query() raw: Record<string, unknown>): Promise<NodeDto[]> {
    return (await this.nodes.list(parseNodeQuery(raw))).map(toNodeDto);
  }

  @Get('sync')
  @CheckAbility('read', 'Node')
  @ApiOperation({ summary: 'The last sync of inventory.yaml: what changed and its problems' })
  lastSync(): InventorySyncReport | { at: null } {
    return this.inventory.lastSyncReport ?? { at: null };
  }

  @Post('sync')
  @HttpCode(200)
  @CheckAbility('update', 'Node')
  @ApiOperation({
    summary: 'Read RUNBOOKS_DIR/inventory.yaml now; an invalid file changes nothing',
  })
  sync(@Audit() ctx: AuditContext): Promise<InventorySyncReport> {
    return this.inventory.sync(ctx);
  }

  @Post('import/ansible')
  @HttpCode(200)
  @CheckAbility('create', 'Node')
  @ApiOperation({
    summary: 'Import an Ansible inventory (INI or YAML): hosts become nodes, groups clusters',
  })
  importAnsible(
    @Body() body: AnsibleImportDto,
    @Audit() ctx: AuditContext,
  ): Promise<AnsibleImportReport> {
    return this.inventory.importAnsible(body.content, body.format, ctx, {
      credential: body.credential,
    });
  }

  @Post('import/rundeck')
  @HttpCode(200)
  @CheckAbility('create', 'Node')
  @ApiOperation({
    summary:
      'Import a Rundeck resource model (resources.yaml, .xml or .json): nodes with tags and attributes',
  })
  importRundeck(
    @Body() body: RundeckImportDto,
    @Audit() ctx: AuditContext,
  ): Promise<NodeImportReport> {
    return this.inventory.importRundeck(body.content, body.format, ctx, {
      credential: body.credential,
    });
  }

  @Post('resolve')
  @HttpCode(200)
  @CheckAbility('read', 'Node')
  @ApiOperation({ summary: 'Preview: the enabled nodes a node filter selects' })
  @ApiOkResponse({ type: NodeDto, isArray: true })
  async resolve(@Body() filter: NodeFilterDto): Promise<NodeDto[]> {
    return (await this.nodes.list({ filter: { ...filter }, includeDisabled: false })).map(
      toNodeDto,
    );
  }

  @Post()
  @CheckAbility('create', 'Node')
  @ApiOperation({ summary: 'Add a node (admin)' })
  @ApiOkResponse({ type: NodeDto })
  async create(@Body() body: CreateNodeDto, @Audit() ctx: AuditContext): Promise<NodeDto> {
    return toNodeDto(await this.nodes.createNode(body, ctx));
  }

  @Get(':ref')
  @CheckAbility('read', 'Node')
  @ApiOperation({ summary: 'A node by id or name' })
  @ApiOkResponse({ type: NodeDto })
  async get(@Param('ref') ref: string): Promise<NodeDto> {
    return toNodeDto(await this.nodes.get(nodeRef(ref)));
  }

  @Patch(':ref')
  @CheckAbility('update', 'Node')
  @ApiOperation({
    summary: 'Edit or disable a node (admin); inventory-file nodes are edited in the file',
  })
  @ApiOkResponse({ type: NodeDto })
  async update(
    @Param('ref') ref: string,
    @Body() body: UpdateNodeDto,
    @Audit() ctx: AuditContext,
  ): Promise<NodeDto> {
    return toNodeDto(await this.nodes.updateNode(nodeRef(ref), body, ctx));
  }

  @Delete(':ref')
  @HttpCode(204)
  @CheckAbility('delete', 'Node')
  @ApiOperation({ summary: 'Delete a node made through the API or an import (admin)' })
  @ApiNoContentResponse()
  async delete(@Param('ref') ref: string, @Audit() ctx: AuditContext): Promise<void> {
    await this.nodes.deleteNode(nodeRef(ref), ctx);
  }

  @Delete(':ref/host-key')
  @CheckAbility('update', 'Node')
  @ApiOperation({
    summary: "Forget a node's pinned host key (after a rebuild); trust on first use re-pins",
  })
  @ApiOkResponse({ type: NodeDto })
  async forgetHostKey(@Param('ref') ref: string, @Audit() ctx: AuditContext): Promise<NodeDto> {
    return toNodeDto(await this.hostKeys.forgetHostKey(nodeRef(ref), ctx));
  }
}
