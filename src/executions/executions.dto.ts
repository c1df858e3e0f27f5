import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { PagedTimeRangeQueryDto } from '../common/time-range.dto.js';
import type { ExecutionResultEntity } from './execution-result.entity.js';
import type { ExecutionEntity } from './execution.entity.js';
import { EXECUTION_STATUSES } from './execution-state.js';

export class StartExecutionDto {
  @ApiProperty({ example: 'diagnose-host' })
  @Matches(/^[a-z0-9][a-z0-9-]{1,62}$/, { message: 'must be a runbook name' })
  runbook: string;

  @ApiPropertyOptional({ description: 'Run this version instead of the current one' })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional({ example: { service: 'nginx' } })
  @IsOptional()
  @IsObject()
  options?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: [String],
    description: "Narrow to these of the runbook's target nodes",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @Length(1, 253, { each: true })
  nodes?: string[];

  @ApiPropertyOptional({
    description:
      'During a change freeze in scope: run anyway, held for approval by someone else (four eyes); reason at least 10 characters',
    example: { reason: 'checkout is down, INC-42: restart needed now' },
  })
  @IsOptional()
  @IsObject()
  breakGlass?: { reason: string };

  @ApiPropertyOptional({ enum: ['api', 'cli', 'console'], default: 'api' })
  @IsOptional()
  @IsIn(['api', 'cli', 'console'])
  via?: 'api' | 'cli' | 'console';
}

export class ExecutionQueryDto extends PagedTimeRangeQueryDto(50, 500) {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9-]{1,62}$/, { message: 'must be a runbook name' })
  runbook?: string;

  @ApiPropertyOptional({ enum: EXECUTION_STATUSES })
  @IsOptional()
  @IsIn(EXECUTION_STATUSES)
  status?: (typeof EXECUTION_STATUSES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(128)
  actor?: string;
}

export class LogQueryDto {
  @ApiPropertyOptional({ description: 'Only lines after this sequence number' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(253)
  node?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(63)
  step?: string;

  @ApiPropertyOptional({ default: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  limit?: number;

  @ApiPropertyOptional({ enum: ['json', 'text'], description: 'text: a plain-text download' })
  @IsOptional()
  @IsIn(['json', 'text'])
  format?: 'json' | 'text';
}

export class ExecutionDto {
  @ApiProperty() id: string;
  @ApiProperty() runbook: string;
  @ApiProperty() version: number;
  @ApiProperty({ enum: EXECUTION_STATUSES }) status: string;
  @ApiProperty({ type: Object, description: 'Secure values are ****' }) options: Record<
    string,
    unknown
  >;
  @ApiProperty({ type: [String] }) targets: string[];
  @ApiProperty() actor: string;
  @ApiProperty() trigger: string;
  @ApiProperty({ nullable: true, type: String }) incidentId: string | null;
  @ApiProperty({ nullable: true, type: String }) rerunOf: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'The execution whose runbook step started this one',
  })
  parentExecutionId: string | null;
  @ApiProperty({ nullable: true, type: String, description: "That execution's step" })
  parentStep: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty({
    nullable: true,
    description: "The runbook's concurrency when it started (null: allow)",
    example: { policy: 'queue', scope: 'node' },
  })
  concurrency: { policy: string; scope: string } | null;
  @ApiProperty({
    type: [String],
    description: 'While queued by the concurrency policy: the executions it waits for',
  })
  waitingFor: string[];
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) finishedAt: string | null;
}

export class ChildExecutionDto {
  @ApiProperty() id: string;
  @ApiProperty() runbook: string;
  @ApiProperty() version: number;
  @ApiProperty({ description: "The parent's step that started it" }) step: string;
  @ApiProperty({ enum: EXECUTION_STATUSES }) status: string;
  @ApiProperty({ description: 'Its output: GET /executions/ID/logs' }) logs: string;
}

export function toChildExecutionDto(e: ExecutionEntity): ChildExecutionDto {
  return {
    id: e.id,
    runbook: e.runbookName,
    version: e.runbookVersion,
    step: e.parentStep ?? '',
    status: e.status,
    logs: `/executions/${e.id}/logs`,
  };
}

export class StepResultDto {
  @ApiProperty() step: string;
  @ApiProperty({ nullable: true, type: String }) node: string | null;
  @ApiProperty() status: string;
  @ApiProperty({ nullable: true, type: Number }) exitCode: number | null;
  @ApiProperty() attempt: number;
  @ApiProperty({ nullable: true, type: Number }) durationMs: number | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
}

export function toExecutionDto(e: ExecutionEntity): ExecutionDto {
  return {
    id: e.id,
    runbook: e.runbookName,
    version: e.runbookVersion,
    status: e.status,
    options: e.options,
    targets: e.targets.map((t) => t.name),
    actor: e.actorName,
    trigger: e.trigger,
    incidentId: e.incidentId,
    rerunOf: e.rerunOf,
    parentExecutionId: e.parentExecutionId,
    parentStep: e.parentStep,
    error: e.error,
    concurrency: e.concurrencyPolicy
      ? { policy: e.concurrencyPolicy, scope: e.concurrencyScope ?? 'runbook' }
      : null,
    waitingFor: e.status === 'queued' ? (e.waitingFor ?? []) : [],
    createdAt: e.createdAt.toISOString(),
    startedAt: e.startedAt?.toISOString() ?? null,
    finishedAt: e.finishedAt?.toISOString() ?? null,
  };
}

export function toStepResultDto(r: ExecutionResultEntity): StepResultDto {
  return {
    step: r.step,
    node: r.node,
    status: r.status,
    exitCode: r.exitCode,
    attempt: r.attempt,
    durationMs: r.durationMs,
    error: r.error,
  };
}
