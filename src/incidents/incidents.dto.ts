import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
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
import { PagedTimeRangeQueryDto, TimeRangeQueryDto } from '../common/time-range.dto.js';
import type { IncidentRoleEntity } from './incident-role.entity.js';
import { ICS_ROLES, NOTE_MAX_CHARS, SEVERITIES, STATUSES, type IcsRole } from './incident-rules.js';
import type { IncidentTimelineEntity } from './incident-timeline.entity.js';
import { incidentRef, type IncidentEntity } from './incident.entity.js';

const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export class DeclareIncidentDto {
  @ApiProperty({ example: 'Checkout API returning 502s' })
  @IsString()
  @Length(1, 200)
  title: string;

  @ApiProperty({ enum: SEVERITIES, example: 'SEV2' })
  @IsIn(SEVERITIES, { message: `must be one of ${SEVERITIES.join(', ')}` })
  severity: (typeof SEVERITIES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(NOTE_MAX_CHARS)
  summary?: string;

  @ApiPropertyOptional({ type: [String], example: ['checkout'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(SERVICE_RE, { each: true, message: 'each service must be a short name' })
  services?: string[];

  @ApiPropertyOptional({ example: { region: 'eu-west-1' } })
  @IsOptional()
  @IsObject()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ description: 'Username of the first commander (default: you)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  commander?: string;

  @ApiPropertyOptional({ enum: ['manual', 'alert', 'slack'], default: 'manual' })
  @IsOptional()
  @IsIn(['manual', 'alert', 'slack'])
  source?: 'manual' | 'alert' | 'slack';
}

export class ActionItemDto {
  @ApiProperty()
  @IsString()
  @Length(1, 2000)
  text: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  owner?: string | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  done?: boolean;
}

export class UpdateIncidentDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(NOTE_MAX_CHARS)
  summary?: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(NOTE_MAX_CHARS)
  impact?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(SERVICE_RE, { each: true, message: 'each service must be a short name' })
  services?: string[];

  @ApiPropertyOptional({ type: [ActionItemDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => ActionItemDto)
  actionItems?: ActionItemDto[];
}

export class ChangeStatusDto {
  @ApiProperty({ enum: STATUSES })
  @IsIn(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` })
  status: (typeof STATUSES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  note?: string;
}

export class ChangeSeverityDto {
  @ApiProperty({ enum: SEVERITIES })
  @IsIn(SEVERITIES, { message: `must be one of ${SEVERITIES.join(', ')}` })
  severity: (typeof SEVERITIES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  reason?: string;
}

export class AssignRoleDto {
  @ApiProperty({ enum: ICS_ROLES })
  @IsIn(ICS_ROLES, { message: `unknown role; must be one of ${ICS_ROLES.join(', ')}` })
  role: IcsRole;

  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 64)
  username: string;
}

export class NoteDto {
  @ApiProperty({ maxLength: NOTE_MAX_CHARS })
  @IsString()
  @Length(1, NOTE_MAX_CHARS, {
    message: `a note must be 1 to ${NOTE_MAX_CHARS} characters`,
  })
  text: string;
}

export class IncidentExecutionDto {
  @ApiProperty({ example: 'diagnose-host' })
  @Matches(/^[a-z0-9][a-z0-9-]{1,62}$/, { message: 'must be a runbook name' })
  runbook: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  options?: Record<string, unknown>;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @Length(1, 253, { each: true })
  nodes?: string[];

  @ApiPropertyOptional({
    description:
      'During a change freeze in scope: run anyway, held for approval by someone else (four eyes)',
  })
  @IsOptional()
  @IsObject()
  breakGlass?: { reason: string };
}

export class IncidentQueryDto extends PagedTimeRangeQueryDto(50, 500) {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: (typeof SEVERITIES)[number];
}

export class MetricsQueryDto extends TimeRangeQueryDto {}

export class TimelineQueryDto {
  @ApiPropertyOptional({
    description: "Only entries after this seq (an entry's place, not its id)",
  })
  @IsOptional()
  @Matches(/^\d{1,9}$/, { message: "must be a timeline entry's seq (a whole number)" })
  after?: string;

  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class IncidentRoleDto {
  @ApiProperty({ enum: ICS_ROLES }) role: string;
  @ApiProperty() userId: string;
  @ApiProperty() username: string;
  @ApiProperty() displayName: string;
  @ApiProperty() assignedAt: string;
  @ApiProperty() assignedBy: string;
}

export class IncidentDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'INC-42' }) ref: string;
  @ApiProperty() number: number;
  @ApiProperty() title: string;
  @ApiProperty({ nullable: true, type: String }) summary: string | null;
  @ApiProperty({ nullable: true, type: String }) impact: string | null;
  @ApiProperty({ enum: SEVERITIES }) severity: string;
  @ApiProperty({ enum: STATUSES }) status: string;
  @ApiProperty({ type: [String] }) services: string[];
  @ApiProperty({ type: Object }) labels: Record<string, string>;
  @ApiProperty() source: string;
  @ApiProperty() declaredBy: string;
  @ApiProperty() declaredAt: string;
  @ApiProperty({ nullable: true, type: String }) acknowledgedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) identifiedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) mitigatedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) resolvedAt: string | null;
  @ApiProperty({ type: [ActionItemDto] }) actionItems: ActionItemDto[];
  @ApiProperty({ type: [IncidentRoleDto] }) roles: IncidentRoleDto[];
  @ApiProperty() updatedAt: string;
}

export class TimelineEntryDto {
  @ApiProperty() id: string;
  @ApiProperty({
    description: "1, 2, … in the incident's commit order; the SSE id and page cursor",
  })
  seq: number;
  @ApiProperty() at: string;
  @ApiProperty() kind: string;
  @ApiProperty({ nullable: true, type: String }) actorId: string | null;
  @ApiProperty() actor: string;
  @ApiProperty() summary: string;
  @ApiProperty({ type: Object }) details: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) subjectType: string | null;
  @ApiProperty({ nullable: true, type: String }) subjectId: string | null;
  @ApiProperty({ nullable: true, type: String }) link: string | null;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toIncidentDto(i: IncidentEntity, roles: IncidentRoleEntity[]): IncidentDto {
  return {
    id: i.id,
    ref: incidentRef(i),
    number: i.number,
    title: i.title,
    summary: i.summary,
    impact: i.impact,
    severity: i.severity,
    status: i.status,
    services: i.services,
    labels: i.labels,
    source: i.source,
    declaredBy: i.declaredByName,
    declaredAt: i.createdAt.toISOString(),
    acknowledgedAt: iso(i.acknowledgedAt),
    identifiedAt: iso(i.identifiedAt),
    mitigatedAt: iso(i.mitigatedAt),
    resolvedAt: iso(i.resolvedAt),
    actionItems: i.actionItems,
    roles: roles.map((r) => ({
      role: r.role,
      userId: r.userId,
      username: r.username,
      displayName: r.displayName,
      assignedAt: r.assignedAt.toISOString(),
      assignedBy: r.assignedBy,
    })),
    updatedAt: i.updatedAt.toISOString(),
  };
}

export function toTimelineEntryDto(e: IncidentTimelineEntity): TimelineEntryDto {
  return {
    id: String(e.id),
    seq: e.seq,
    at: e.at.toISOString(),
    kind: e.kind,
    actorId: e.actorId,
    actor: e.actorName,
    summary: e.summary,
    details: e.details,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    link: typeof e.details.link === 'string' ? e.details.link : null,
  };
}
