import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import type { ApiTokenEntity } from './api-token.entity.js';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @Length(1, 64)
  username: string;

  @ApiProperty()
  @IsString()
  @Length(1, 256)
  password: string;
}

export class LoginResultDto {
  @ApiProperty({ description: 'Bearer token for the Authorization header' }) accessToken: string;
  @ApiProperty({ example: 'Bearer' }) tokenType: 'Bearer';
  @ApiProperty({ description: 'Seconds until the token expires' }) expiresIn: number;
}

export class CreateApiTokenDto {
  @ApiProperty({ example: 'ci-deploys' })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiPropertyOptional({
    description:
      'ISO 8601 time after which the token stops working: in the future, at most TOKEN_MAX_TTL (365 days by default) from now; omitted: TOKEN_DEFAULT_TTL (30 days by default)',
    example: '2027-01-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  @MaxLength(40)
  expiresAt?: string;
}

export class ApiTokenDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'First characters, to recognise the token' }) prefix: string;
  @ApiProperty() userId: string;
  @ApiProperty() expiresAt: string;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt: string | null;
  @ApiProperty() createdAt: string;
}

export class CreatedApiTokenDto extends ApiTokenDto {
  @ApiProperty({ description: 'The token itself. Shown once; only its hash is stored.' })
  token: string;
}

export function toApiTokenDto(t: ApiTokenEntity): ApiTokenDto {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    userId: t.userId,
    expiresAt: t.expiresAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
  };
}
