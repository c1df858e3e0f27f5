import {
  Body,
  Controller,
  Get,
  Headers,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AuditContext } from '../audit/audit.service.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { validationFailed } from '../common/errors.js';
import { Audit, CurrentAbility, CurrentPrincipal } from '../auth/current.decorator.js';
import {
  ChildExecutionDto,
  ExecutionDto,
  ExecutionQueryDto,
  LogQueryDto,
  StartExecutionDto,
  StepResultDto,
  toChildExecutionDto,
  toExecutionDto,
  toStepResultDto,
} from './executions.dto.js';
import { ExecutionsService, toLogEvent } from './executions.service.js';
import { LOG_FORMATS, type LogFormat } from './log-stream.js';
import { ApprovalsService, type ApprovalView } from './approvals.service.js';

@ApiTags('executions')
@ApiBearerAuth()
@Controller('executions')
export class ExecutionsController {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly approvals: ApprovalsService,
  ) {}

  @Post()
  @CheckAbility('run', 'Runbook')
  @ApiOperation({
    summary: 'Run a runbook: authorized against it and its targets, options validated, queued',
  })
  @ApiOkResponse({ type: ExecutionDto })
  async start(
    @Body() body: StartExecutionDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<ExecutionDto> {
    const e = await this.executions.start(
      {
        runbook: body.runbook,
        version: body.version,
        options: body.options,
        nodes: body.nodes,
        trigger: body.via ?? 'api',
        ...(body.breakGlass !== undefined ? { breakGlass: body.breakGlass } : {}),
      },
      { principal, ability, audit },
    );
    return toExecutionDto(e);
  }

  @Get()
  @ApiOperation({
    summary: 'Executions you may see, newest first (by runbook, status, actor, time)',
  })
  @ApiOkResponse({ type: ExecutionDto, isArray: true })
  async list(
    @Query() q: ExecutionQueryDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<ExecutionDto[]> {
    const rows = await this.executions.list(
      {
        ...q,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        limit: q.limit ?? 50,
      },
      { principal, ability },
    );
    return rows.map(toExecutionDto);
  }

  @Get(':id')
  @ApiOperation({
    summary:
      'An execution with its per-node, per-step results and the child executions its runbook steps started',
  })
  async get(
    @Param('id', ParseUUIDPipe) id: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<
    ExecutionDto & {
      results: StepResultDto[];
      approvals: ApprovalView[];
      children: ChildExecutionDto[];
    }
  > {
    const e = await this.executions.get(id, { principal, ability });
    return {
      ...toExecutionDto(e),
      results: (await this.executions.results(id)).map(toStepResultDto),
      approvals: await this.approvals.forExecution(e),
      children: (await this.executions.children(id, { principal, ability })).map(
        toChildExecutionDto,
      ),
    };
  }

  @Get(':id/logs')
  @ApiProduces('application/json', 'text/plain')
  @ApiOperation({
    summary:
      'Output lines in order (filter by node and step, page with after); format=text to download',
  })
  async logs(
    @Param('id', ParseUUIDPipe) id: string,
    @Query() q: LogQueryDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Res({ passthrough: true }) res: Response,
  ) {
    await this.executions.get(id, { principal, ability });
    const rows = await this.executions.logs(id, {
      afterSeq: q.after,
      node: q.node,
      step: q.step,
      limit: q.limit ?? 1000,
    });
    if (q.format === 'text') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="execution-${id}.log"`);
      return (
        rows
          .map(
            (r) => `${r.at.toISOString()} ${r.node ?? '-'} ${r.step ?? '-'} ${r.stream}: ${r.line}`,
          )
          .join('\n') + '\n'
      );
    }
    return {
      items: rows.map(toLogEvent),
      nextAfter: rows.length ? rows[rows.length - 1].seq : (q.after ?? 0),
    };
  }

  @Get(':id/stream')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary:
      'Live output (server-sent events); resumes after Last-Event-ID; ends with the final status. ' +
      '`format=batch`: one `logs` event per page of lines ({"v":1,"lines":[…]}) instead of one `log` event per line; ' +
      '`format=compact`: the same pages in columns ({"v":2,"runs":[[seq, n, at, node, step, stream], …],"lines":[…]}: ' +
      'run after run, n lines with consecutive seqs sharing the other fields)',
  })
  async stream(
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') after: string | undefined,
    @Query('format') format: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format))
      throw validationFailed([
        {
          path: 'format',
          message: "must be 'line' (one event per line), 'batch' or 'compact' (pages of lines)",
        },
      ]);
    await this.executions.get(id, { principal, ability });
    const from = Number(lastEventId ?? after ?? 0);
    // Not Nest's @Sse: that writes (and awaits) each event on its own, which a flood of lines
    // to many viewers cannot afford; the log streams write a page at a time, serialised once
    // for all viewers, with per-viewer backpressure.
    const start = Number.isInteger(from) && from >= 0 ? from : 0;
    this.executions.serveStream(req, res, id, start, (format as LogFormat | undefined) ?? 'line');
  }

  @Post(':id/cancel')
  @ApiOperation({ summary: 'Stop an execution: remote processes are killed' })
  async cancel(
    @Param('id', ParseUUIDPipe) id: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<ExecutionDto> {
    return toExecutionDto(await this.executions.cancel(id, { principal, ability, audit }));
  }

  @Post(':id/rerun')
  @ApiOperation({ summary: 'Run the same version with the same options and nodes again' })
  async rerun(
    @Param('id', ParseUUIDPipe) id: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentAbility() ability: AppAbility,
    @Audit() audit: AuditContext,
  ): Promise<ExecutionDto> {
    return toExecutionDto(await this.executions.rerun(id, { principal, ability, audit }));
  }
}
