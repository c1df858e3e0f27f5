import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { Audit } from '../auth/current.decorator.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { Inject } from '@nestjs/common';
import { INTEGRATION_TYPES, type IntegrationEntity } from './integration.entity.js';
import { IntegrationsService } from './integrations.service.js';

const view = (i: IntegrationEntity, baseUrl: string) => ({
  id: i.id,
  name: i.name,
  type: i.type,
  url: `${baseUrl}/hooks/${i.type}/${i.id}`,
  identity: i.username,
  ...i.settings,
  disabled: i.disabled,
  createdBy: i.createdBy,
  createdAt: i.createdAt,
});

@ApiTags('alerts')
@ApiBearerAuth()
@Controller('integrations')
export class IntegrationsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly integrations: IntegrationsService,
  ) {}

  @Post()
  @CheckAbility('create', 'Integration')
  @ApiOperation({
    summary:
      'Create an integration (admins): its hook URL, service identity and a secret shown only in this response',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['name', 'type'],
      properties: {
        name: { type: 'string', example: 'prometheus-main' },
        type: { type: 'string', enum: [...INTEGRATION_TYPES] },
        roles: { type: 'array', items: { type: 'string' }, example: ['responder'] },
        groups: { type: 'array', items: { type: 'string' } },
        severityLabel: { type: 'string', example: 'severity' },
        severityMap: { type: 'object', example: { critical: 'SEV1', warning: 'SEV3' } },
        defaultSeverity: { type: 'string', example: 'SEV3' },
        autoRun: { type: 'array', items: { type: 'string' }, example: ['diagnose-host'] },
        monitorOnResolve: { type: 'boolean' },
        commander: { type: 'string' },
        secret: {
          type: 'string',
          description: 'a secret the source generated or you chose (default: a random one)',
        },
        signatureHeader: { type: 'string', example: 'X-Grafana-Alerting-Signature' },
        timestampHeader: { type: 'string', example: 'X-Grafana-Alerting-Timestamp' },
        runLimit: { type: 'object', example: { max: 3, windowSeconds: 600 } },
        ingestLimit: { type: 'object', example: { max: 300, windowSeconds: 300 } },
      },
    },
  })
  async create(@Body() body: unknown, @Audit() ctx: AuditContext) {
    const { integration, secret } = await this.integrations.create(body, ctx);
    return { ...view(integration, this.config.publicUrl), secret };
  }

  @Patch(':id')
  @CheckAbility('update', 'Integration')
  @ApiOperation({
    summary:
      'Change an integration (admins): severity mapping, autoRun, monitorOnResolve, commander, disabled, Grafana signature headers',
  })
  @ApiBody({
    schema: {
      type: 'object',
      properties: {
        severityLabel: { type: 'string' },
        severityMap: { type: 'object' },
        defaultSeverity: { type: 'string' },
        autoRun: { type: 'array', items: { type: 'string' } },
        monitorOnResolve: { type: 'boolean' },
        commander: { type: 'string', nullable: true },
        disabled: { type: 'boolean' },
        signatureHeader: { type: 'string' },
        timestampHeader: { type: 'string', nullable: true },
      },
    },
  })
  async update(@Param('id') id: string, @Body() body: unknown, @Audit() ctx: AuditContext) {
    return view(await this.integrations.update(id, body, ctx), this.config.publicUrl);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @CheckAbility('update', 'Integration')
  @ApiOperation({
    summary:
      "Set an integration's secret (admins): the one the source generated (PagerDuty's subscription secret), or none for a new random one, shown only in this response",
  })
  @ApiBody({ schema: { type: 'object', properties: { secret: { type: 'string' } } } })
  async setSecret(@Param('id') id: string, @Body() body: unknown, @Audit() ctx: AuditContext) {
    const { integration, secret } = await this.integrations.setSecret(id, body, ctx);
    return { ...view(integration, this.config.publicUrl), ...(secret ? { secret } : {}) };
  }

  @Get()
  @CheckAbility('read', 'Integration')
  @ApiOperation({ summary: 'List integrations (admins); secrets are never shown again' })
  async list() {
    return (await this.integrations.list()).map((i) => view(i, this.config.publicUrl));
  }

  @Get(':id')
  @CheckAbility('read', 'Integration')
  @ApiOperation({ summary: 'One integration (admins)' })
  async get(@Param('id') id: string) {
    return view(await this.integrations.get(id), this.config.publicUrl);
  }
}
