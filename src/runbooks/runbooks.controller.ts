import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  ParseIntPipe,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { subject } from '@casl/ability';
import type { Request } from 'express';
import type { AuditContext } from '../audit/audit.service.js';
import type { AppAbility } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit, CurrentAbility } from '../auth/current.decorator.js';
import { DomainException } from '../common/errors.js';
import { runbookJsonSchema } from './runbook.schema.js';
import {
  DiffQueryDto,
  DisableRunbookDto,
  PlanRequestDto,
  RunbookDto,
  RunbookQueryDto,
  RunbookSummaryDto,
  RunbookVersionDto,
  RunbookVersionSummaryDto,
  toRunbookSummaryDto,
  toVersionDto,
  toVersionSummaryDto,
} from './runbooks.dto.js';
import { runbookAccess } from './runbooks.acl.js';
import { RunbooksService, type SyncReport } from './runbooks.service.js';

const NAME_PARAM = /^[a-z0-9][a-z0-9-]{1,62}$/;

function checkName(name: string): string {
  if (!NAME_PARAM.test(name)) {
    throw new DomainException('VALIDATION_FAILED', 'name: not a runbook name', [
      { path: 'name', message: 'not a runbook name' },
    ]);
  }
  return name;
}

@ApiTags('runbooks')
@ApiBearerAuth()
@Controller('runbooks')
export class RunbooksController {
  constructor(private readonly runbooks: RunbooksService) {}

  @Get()
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'Runbooks you may see; search by name/description, tag and kind' })
  @ApiOkResponse({ type: RunbookSummaryDto, isArray: true })
  async list(
    @Query() q: RunbookQueryDto,
    @CurrentAbility() ability: AppAbility,
  ): Promise<RunbookSummaryDto[]> {
    const rows = await this.runbooks.list(
      { ...q, includeDisabled: q.includeDisabled === 'true' },
      ability,
    );
    return rows.map(({ runbook, version }) =>
      toRunbookSummaryDto(
        runbook,
        ability.can('run', subject('Runbook', runbookAccess(version.definition))),
      ),
    );
  }

  @Get('schema')
  @ApiOperation({ summary: 'JSON Schema of the runbook format (for editors)' })
  schema(): Record<string, unknown> {
    return runbookJsonSchema();
  }

  @Get('sync')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({
    summary: 'The last sync of RUNBOOKS_DIR: versions created and problems per file',
  })
  lastSync(): SyncReport | { at: null } {
    return this.runbooks.lastSyncReport ?? { at: null };
  }

  @Post('sync')
  @HttpCode(200)
  @CheckAbility('update', 'Runbook')
  @ApiOperation({ summary: 'Read RUNBOOKS_DIR now; invalid files never replace a valid version' })
  sync(@Audit() ctx: AuditContext): Promise<SyncReport> {
    return this.runbooks.sync(ctx);
  }

  @Post()
  @CheckAbility('create', 'Runbook')
  @ApiOperation({
    summary: 'Create or update a runbook from YAML (a new version when the content changed)',
  })
  @ApiConsumes('application/yaml', 'text/yaml')
  @ApiBody({ schema: { type: 'string' }, description: 'The runbook YAML' })
  async save(@Req() req: Request, @Audit() ctx: AuditContext) {
    if (typeof req.body !== 'string' || req.body.trim() === '') {
      throw new DomainException(
        'UNSUPPORTED_MEDIA_TYPE',
        'send the runbook as YAML with Content-Type: application/yaml',
      );
    }
    const { runbook, version, created } = await this.runbooks.saveFromApi(req.body, ctx);
    return {
      name: runbook.name,
      version: version.version,
      contentHash: version.contentHash,
      created,
    };
  }

  @Get(':name')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'A runbook with its current version (YAML and parsed)' })
  @ApiOkResponse({ type: RunbookDto })
  async get(
    @Param('name') name: string,
    @CurrentAbility() ability: AppAbility,
  ): Promise<RunbookDto> {
    const { runbook, version } = await this.runbooks.get(checkName(name), ability);
    const canRun = ability.can('run', subject('Runbook', runbookAccess(version.definition)));
    return { ...toRunbookSummaryDto(runbook, canRun), version: toVersionDto(version) };
  }

  @Get(':name/versions')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'Every version, newest first; history is never deleted' })
  @ApiOkResponse({ type: RunbookVersionSummaryDto, isArray: true })
  async versions(
    @Param('name') name: string,
    @CurrentAbility() ability: AppAbility,
  ): Promise<RunbookVersionSummaryDto[]> {
    return (await this.runbooks.listVersions(checkName(name), ability)).map(toVersionSummaryDto);
  }

  @Get(':name/versions/:version')
  @CheckAbility('read', 'Runbook')
  @ApiOperation({ summary: 'One version (YAML and parsed)' })
  @ApiOkResponse({ type: RunbookVersionDto })
  async version(
    @Param('name') name: string,
    @Param('version', ParseIntPipe) version: number,
    @CurrentAbility() ability: AppAbility,
  ): Promise<RunbookVersionDto> {
    return toVersionDto((await this.runbooks.get(checkName(name), ability, version)).version);
  }

  @Get(':name/diff')
  @CheckAbility('read', 'Runbook')
  @Header('Content-Type', 'text/x-diff; charset=utf-8')
  @ApiProduces('text/x-diff')
  @ApiOperation({ summary: 'Unified diff between two versions' })
  diff(
    @Param('name') name: string,
    @Query() q: DiffQueryDto,
    @CurrentAbility() ability: AppAbility,
  ): Promise<string> {
    return this.runbooks.diff(checkName(name), q.from, q.to, ability);
  }

  @Post(':name/disable')
  @HttpCode(200)
  @CheckAbility('update', 'Runbook')
  @ApiOperation({ summary: 'Disable a runbook: it can no longer run; history stays' })
  async disable(
    @Param('name') name: string,
    @Body() body: DisableRunbookDto,
    @CurrentAbility() ability: AppAbility,
    @Audit() ctx: AuditContext,
  ) {
    const r = await this.runbooks.setDisabled(checkName(name), true, body.reason, ability, ctx);
    return { name: r.name, disabled: r.disabled, disabledReason: r.disabledReason };
  }

  @Post(':name/enable')
  @HttpCode(200)
  @CheckAbility('update', 'Runbook')
  @ApiOperation({ summary: 'Enable a disabled runbook' })
  async enable(
    @Param('name') name: string,
    @CurrentAbility() ability: AppAbility,
    @Audit() ctx: AuditContext,
  ) {
    const r = await this.runbooks.setDisabled(checkName(name), false, undefined, ability, ctx);
    return { name: r.name, disabled: r.disabled, disabledReason: r.disabledReason };
  }

  @Post(':name/plan')
  @HttpCode(200)
  @CheckAbility('read', 'Runbook')
  @ApiOperation({
    summary:
      'Dry run: exact commands and requests per node, secure values masked, approval needed or not',
  })
  plan(
    @Param('name') name: string,
    @Body() body: PlanRequestDto,
    @CurrentAbility() ability: AppAbility,
    @Audit() ctx: AuditContext,
  ) {
    const nodes = body.nodes?.map((n) => ({
      name: n.name,
      hostname: n.hostname ?? n.name,
      port: n.port ?? 22,
      user: n.user ?? 'root',
      tags: n.tags ?? [],
      attributes: Object.fromEntries(
        Object.entries(n.attributes ?? {}).map(([k, v]) => [k, String(v)]),
      ),
    }));
    return this.runbooks.plan(
      checkName(name),
      { options: body.options, nodes, version: body.version },
      ability,
      ctx,
    );
  }
}
