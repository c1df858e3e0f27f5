import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Sse,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { map, type Observable } from 'rxjs';
import type { AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit, CurrentAbility, CurrentPrincipal } from '../auth/current.decorator.js';
import { toExecutionDto, type ExecutionDto } from '../executions/executions.dto.js';
import type { Actor } from '../executions/executions.service.js';
import {
  AssignRoleDto,
  ChangeSeverityDto,
  ChangeStatusDto,
  DeclareIncidentDto,
  IncidentDto,
  IncidentExecutionDto,
  IncidentQueryDto,
  MetricsQueryDto,
  NoteDto,
  TimelineEntryDto,
  TimelineQueryDto,
  toIncidentDto,
  toTimelineEntryDto,
  UpdateIncidentDto,
} from './incidents.dto.js';
import { IncidentExecutionsService } from './incident-executions.service.js';
import { IncidentTimelineService } from './incident-timeline.service.js';
import { IncidentsService, type IncidentWithRoles } from './incidents.service.js';
import { PostmortemService } from './postmortem.service.js';
import type { ResponseMetrics } from './response-metrics.js';
import { ResponseMetricsService } from './response-metrics.service.js';

const dto = ({ incident, roles }: IncidentWithRoles) => toIncidentDto(incident, roles);

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('incidents')
export class IncidentsController {
  constructor(
    private readonly incidents: IncidentsService,
    private readonly timelines: IncidentTimelineService,
    private readonly responseMetrics: ResponseMetricsService,
    private readonly incidentExecutions: IncidentExecutionsService,
    private readonly postmortems: PostmortemService,
  ) {}

  @Post()
  @CheckAbility('create', 'Incident')
  @ApiOperation({ summary: 'Declare an incident; the declarer is commander unless they name one' })
  @ApiOkResponse({ type: IncidentDto })
  async declare(
    @Body() body: DeclareIncidentDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    return dto(await this.incidents.declare(body, { principal, ability, audit }));
  }

  @Get()
  @CheckAbility('read', 'Incident')
  @ApiOperation({ summary: 'Incidents, newest first (by status, severity, declared time)' })
  @ApiOkResponse({ type: IncidentDto, isArray: true })
  async list(@Query() q: IncidentQueryDto): Promise<IncidentDto[]> {
    const rows = await this.incidents.list({
      status: q.status,
      severity: q.severity,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      limit: q.limit ?? 50,
    });
    return rows.map(dto);
  }

  @Get('metrics')
  @CheckAbility('read', 'Incident')
  @ApiOperation({
    summary: 'MTTA, MTTM and MTTR (seconds) per severity and counts by status, for a window',
  })
  metrics(@Query() q: MetricsQueryDto): Promise<ResponseMetrics> {
    return this.responseMetrics.forWindow(
      q.from ? new Date(q.from) : undefined,
      q.to ? new Date(q.to) : undefined,
    );
  }

  @Get(':id')
  @CheckAbility('read', 'Incident')
  @ApiOperation({ summary: 'An incident (INC-42 or its uuid) with its roles' })
  @ApiOkResponse({ type: IncidentDto })
  async get(@Param('id') id: string): Promise<IncidentDto> {
    return dto(await this.incidents.get(id));
  }

  @Patch(':id')
  @CheckAbility('update', 'Incident')
  @ApiOperation({ summary: 'Edit title, summary, impact, services, action items (commander)' })
  @ApiOkResponse({ type: IncidentDto })
  async update(
    @Param('id') id: string,
    @Body() body: UpdateIncidentDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    return dto(await this.incidents.update(id, body, { principal, ability, audit }));
  }

  @Post(':id/status')
  @HttpCode(200)
  @CheckAbility('update', 'Incident')
  @ApiOperation({ summary: 'Move to another status (commander or admin)' })
  @ApiOkResponse({ type: IncidentDto })
  async status(
    @Param('id') id: string,
    @Body() body: ChangeStatusDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    const actor: Actor = { principal, ability, audit };
    return dto(await this.incidents.changeStatus(id, body.status, body.note, actor));
  }

  @Post(':id/severity')
  @HttpCode(200)
  @CheckAbility('update', 'Incident')
  @ApiOperation({ summary: 'Change the severity (commander or admin)' })
  @ApiOkResponse({ type: IncidentDto })
  async severity(
    @Param('id') id: string,
    @Body() body: ChangeSeverityDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    const actor: Actor = { principal, ability, audit };
    return dto(await this.incidents.changeSeverity(id, body.severity, body.reason, actor));
  }

  @Post(':id/roles')
  @HttpCode(200)
  @CheckAbility('update', 'Incident')
  @ApiOperation({ summary: 'Assign an ICS role; a held single role is handed over (commander)' })
  @ApiOkResponse({ type: IncidentDto })
  async assign(
    @Param('id') id: string,
    @Body() body: AssignRoleDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    const actor: Actor = { principal, ability, audit };
    return dto(await this.incidents.assignRole(id, body.role, body.username, actor));
  }

  @Delete(':id/roles/:role/:username')
  @CheckAbility('update', 'Incident')
  @ApiOperation({ summary: 'Stand someone down from a role, e.g. a subject-matter expert' })
  @ApiOkResponse({ type: IncidentDto })
  async unassign(
    @Param('id') id: string,
    @Param('role') role: string,
    @Param('username') username: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<IncidentDto> {
    const actor: Actor = { principal, ability, audit };
    return dto(await this.incidents.removeRole(id, role, username, actor));
  }

  @Post(':id/notes')
  @CheckAbility('create', 'IncidentNote')
  @ApiOperation({ summary: 'Add a note to the timeline (responders)' })
  @ApiOkResponse({ type: TimelineEntryDto })
  async note(
    @Param('id') id: string,
    @Body() body: NoteDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<TimelineEntryDto> {
    return toTimelineEntryDto(
      await this.incidents.addNote(id, body.text, { principal, ability, audit }),
    );
  }

  @Post(':id/executions')
  @CheckAbility('run', 'Incident')
  @ApiOperation({
    summary: "Run a runbook for the incident (the runbook's own access applies); on the timeline",
  })
  async execute(
    @Param('id') id: string,
    @Body() body: IncidentExecutionDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<ExecutionDto> {
    return toExecutionDto(
      await this.incidentExecutions.start(id, body, { principal, ability, audit }),
    );
  }

  @Get(':id/timeline')
  @CheckAbility('read', 'Incident')
  @ApiOperation({ summary: "The timeline in order; page with after (an entry's seq) and limit" })
  async timeline(
    @Param('id') id: string,
    @Query() q: TimelineQueryDto,
  ): Promise<{ items: TimelineEntryDto[]; nextAfter: string | null }> {
    const limit = q.limit ?? 100;
    const rows = await this.timelines.page(id, Number(q.after ?? 0), limit);
    return {
      items: rows.map(toTimelineEntryDto),
      nextAfter: rows.length ? String(rows[rows.length - 1].seq) : (q.after ?? null),
    };
  }

  @Sse(':id/timeline/stream')
  @CheckAbility('read', 'Incident')
  @ApiOperation({
    summary:
      "The timeline live (server-sent events, id = the entry's seq); resumes after Last-Event-ID",
  })
  async stream(
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') after: string | undefined,
  ): Promise<Observable<{ id?: string; type: string; data: string }>> {
    const incident = await this.incidents.find(id);
    const from = lastEventId ?? after ?? '0';
    return this.timelines
      .stream(incident.id, /^\d{1,9}$/.test(from) ? Number(from) : 0)
      .pipe(map((e) => ({ ...e, data: JSON.stringify(toTimelineEntryDto(e.data)) })));
  }

  @Get(':id/postmortem')
  @CheckAbility('read', 'Incident')
  @Header('Content-Type', 'text/markdown; charset=utf-8')
  @ApiProduces('text/markdown')
  @ApiOperation({
    summary: 'Postmortem as Markdown: summary, impact, roles, durations, timeline, actions',
  })
  postmortem(@Param('id') id: string): Promise<string> {
    return this.postmortems.markdown(id);
  }
}
