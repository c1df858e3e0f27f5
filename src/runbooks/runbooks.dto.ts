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
  ValidateNested,
} from 'class-validator';
import type { RunbookVersionEntity } from './runbook-version.entity.js';
import type { RunbookEntity } from './runbook.entity.js';

export class RunbookQueryDto {
  @ApiPropertyOptional({ description: 'Search in name and description' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  tag?: string;

  @ApiPropertyOptional({ enum: ['diagnostic', 'remediation'] })
  @IsOptional()
  @IsIn(['diagnostic', 'remediation'])
  kind?: 'diagnostic' | 'remediation';

  @ApiPropertyOptional({ description: 'Include disabled runbooks', enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'])
  includeDisabled?: 'true' | 'false';
}

export class DiffQueryDto {
  @ApiProperty()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  from: number;

  @ApiProperty()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  to: number;
}

export class DisableRunbookDto {
  @ApiPropertyOptional({ example: 'replaced by restart-service-v2' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class PlanNodeDto {
  @ApiProperty({ example: 'web-1' })
  @IsString()
  @Length(1, 253)
  name: string;

  @ApiPropertyOptional({ example: 'web-1.internal' })
  @IsOptional()
  @IsString()
  @Length(1, 253)
  hostname?: string;

  @ApiPropertyOptional({ default: 22 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  @ApiPropertyOptional({ default: 'root' })
  @IsOptional()
  @Matches(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'must be a Unix user name' })
  user?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @ArrayMaxSize(100)
  tags?: string[];

  @ApiPropertyOptional({ example: { environment: 'production' } })
  @IsOptional()
  @IsObject()
  attributes?: Record<string, string>;
}

export class PlanRequestDto {
  @ApiPropertyOptional({ description: 'Option values by name', example: { service: 'nginx' } })
  @IsOptional()
  @IsObject()
  options?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: [PlanNodeDto],
    description: 'Target nodes (until the node inventory exists)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => PlanNodeDto)
  nodes?: PlanNodeDto[];

  @ApiPropertyOptional({ description: 'Plan this version instead of the current one' })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;
}

export class RunbookVersionSummaryDto {
  @ApiProperty() version: number;
  @ApiProperty() contentHash: string;
  @ApiProperty({ enum: ['file', 'api'] }) sourceKind: string;
  @ApiProperty({ nullable: true, type: String }) sourcePath: string | null;
  @ApiProperty({ nullable: true, type: String }) gitCommit: string | null;
  @ApiProperty() author: string;
  @ApiProperty() createdAt: string;
}

export class RunbookVersionDto extends RunbookVersionSummaryDto {
  @ApiProperty({ description: 'The YAML as written' }) source: string;
  @ApiProperty({ type: Object, description: 'The validated definition' }) definition: unknown;
}

export class RunbookSummaryDto {
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['diagnostic', 'remediation'] }) kind: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty() currentVersion: number;
  @ApiProperty() disabled: boolean;
  @ApiProperty({ nullable: true, type: String }) disabledReason: string | null;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ description: 'Whether the caller may run it' }) canRun: boolean;
}

export class RunbookDto extends RunbookSummaryDto {
  @ApiProperty({ type: RunbookVersionDto }) version: RunbookVersionDto;
}

export function toVersionSummaryDto(v: RunbookVersionEntity): RunbookVersionSummaryDto {
  return {
    version: v.version,
    contentHash: v.contentHash,
    sourceKind: v.sourceKind,
    sourcePath: v.sourcePath,
    gitCommit: v.gitCommit,
    author: v.authorName,
    createdAt: v.createdAt.toISOString(),
  };
}

export function toVersionDto(v: RunbookVersionEntity): RunbookVersionDto {
  return { ...toVersionSummaryDto(v), source: v.source, definition: v.definition };
}

export function toRunbookSummaryDto(r: RunbookEntity, canRun: boolean): RunbookSummaryDto {
  return {
    name: r.name,
    kind: r.kind,
    description: r.description,
    tags: r.tags,
    currentVersion: r.currentVersion,
    disabled: r.disabled,
    disabledReason: r.disabledReason,
    updatedAt: r.updatedAt.toISOString(),
    canRun,
  };
}
