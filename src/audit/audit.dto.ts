import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PagedTimeRangeQueryDto } from '../common/time-range.dto.js';
import type { AuditEntryEntity } from './audit-entry.entity.js';

export class AuditQueryDto extends PagedTimeRangeQueryDto(100, 1000) {
  @ApiPropertyOptional({ description: 'Username (or system actor) that acted' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  actor?: string;

  @ApiPropertyOptional({ description: 'Action, e.g. auth.login; also matches auth.login.*' })
  @IsOptional()
  @Matches(/^[a-z0-9_.-]{1,64}$/, { message: 'must be an action name such as auth.login' })
  action?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure', 'denied'] })
  @IsOptional()
  @IsIn(['success', 'failure', 'denied'])
  outcome?: 'success' | 'failure' | 'denied';

  @ApiPropertyOptional({ example: 'User' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  subjectType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(256)
  subjectId?: string;

  @ApiPropertyOptional({
    description: 'Page: entries with an id below this (use nextBefore from the previous page)',
  })
  @IsOptional()
  @Matches(/^\d{1,19}$/, { message: 'must be an entry id' })
  before?: string;
}

export class AuditEntryDto {
  @ApiProperty() id: string;
  @ApiProperty() at: string;
  @ApiProperty({ nullable: true, type: String }) actorId: string | null;
  @ApiProperty() actor: string;
  @ApiProperty() action: string;
  @ApiProperty({ enum: ['success', 'failure', 'denied'] }) outcome: string;
  @ApiProperty({ nullable: true, type: String }) subjectType: string | null;
  @ApiProperty({ nullable: true, type: String }) subjectId: string | null;
  @ApiProperty({ type: Object }) details: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) requestId: string | null;
  @ApiProperty({ nullable: true, type: String }) sourceIp: string | null;
  @ApiProperty() hash: string;
  @ApiProperty() prevHash: string;
}

export class AuditPageDto {
  @ApiProperty({ type: AuditEntryDto, isArray: true }) items: AuditEntryDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `before` for the next (older) page',
  })
  nextBefore: string | null;
}

export function toAuditEntryDto(e: AuditEntryEntity): AuditEntryDto {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actorId: e.actorId,
    actor: e.actorName,
    action: e.action,
    outcome: e.outcome,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    details: e.details,
    requestId: e.requestId,
    sourceIp: e.sourceIp,
    hash: e.hash,
    prevHash: e.prevHash,
  };
}
