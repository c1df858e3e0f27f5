import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { STEP_NAME_RE } from '../runbooks/runbook.schema.js';

export class DecideApprovalDto {
  @ApiProperty({ enum: ['approve', 'reject'] })
  @IsIn(['approve', 'reject'], { message: 'must be approve or reject' })
  decision: 'approve' | 'reject';

  @ApiPropertyOptional({ description: 'Why; shown in the audit trail and the incident timeline' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  comment?: string;

  @ApiPropertyOptional({ description: "One of the approval step's choices (approve only)" })
  @IsOptional()
  @Matches(STEP_NAME_RE, { message: 'must be one of the choices the approval offers' })
  choice?: string;
}

export class ApprovalQueryDto {
  @ApiPropertyOptional({ enum: ['pending', 'approved', 'rejected', 'expired'], default: 'pending' })
  @IsOptional()
  @IsIn(['pending', 'approved', 'rejected', 'expired'], {
    message: 'must be pending, approved, rejected or expired',
  })
  state?: 'pending' | 'approved' | 'rejected' | 'expired';
}
