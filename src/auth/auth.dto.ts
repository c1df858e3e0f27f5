import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsISO8601, IsOptional, IsString, Length, MaxLength } from 'class-validator';
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

  @ApiPropertyOptional({
    description:
      'The web console: keep the session in an HttpOnly, SameSite=Strict cookie instead of returning it (unsafe requests then carry X-CSRF-Token: csrfToken)',
  })
  @IsOptional()
  @IsBoolean()
  cookie?: boolean;
}

export class LoginResultDto {
  @ApiPropertyOptional({
    description: 'Bearer token for the Authorization header (absent with cookie: true)',
  })
  accessToken?: string;
  @ApiProperty({ enum: ['Bearer', 'Cookie'] }) tokenType: 'Bearer' | 'Cookie';
  @ApiProperty({ description: 'Seconds until the session expires' }) expiresIn: number;
  @ApiPropertyOptional({
    description:
      'With cookie: true, the value to send in X-CSRF-Token (also in the fb_csrf cookie)',
  })
  csrfToken?: string;
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
