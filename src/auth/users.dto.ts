import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsBoolean,
  IsEmail,
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { ROLES } from '../common/access/ability.js';
import type { UserEntity } from './user.entity.js';

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;
export const GROUP_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class CreateUserDto {
  @ApiProperty({ example: 'alice', pattern: USERNAME_RE.source })
  @IsString()
  @Matches(USERNAME_RE, {
    message: 'must be 2-64 lower-case letters, digits, dot, dash or underscore',
  })
  username: string;

  @ApiProperty({ example: 'Alice Ng' })
  @IsString()
  @Length(1, 128)
  displayName: string;

  @ApiPropertyOptional({ example: 'alice@example.com' })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({
    description: 'At least 12 characters. Omit to create a user who signs in only with API tokens.',
  })
  @IsOptional()
  @IsString()
  @MinLength(12)
  @MaxLength(256)
  password?: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['responder'] })
  @IsIn(ROLES, { each: true, message: `each value must be one of ${ROLES.join(', ')}` })
  @ArrayUnique()
  @ArrayMaxSize(4)
  roles: string[];

  @ApiPropertyOptional({ isArray: true, example: ['sre-lead'] })
  @IsOptional()
  @Matches(GROUP_RE, {
    each: true,
    message: 'each group must be 1-64 lower-case letters, digits, dot, dash or underscore',
  })
  @ArrayUnique()
  @ArrayMaxSize(50)
  groups?: string[];
}

export class UpdateUserDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 128)
  displayName?: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(12)
  @MaxLength(256)
  password?: string;

  @ApiPropertyOptional({ enum: ROLES, isArray: true })
  @IsOptional()
  @IsIn(ROLES, { each: true, message: `each value must be one of ${ROLES.join(', ')}` })
  @ArrayUnique()
  @ArrayMaxSize(4)
  roles?: string[];

  @ApiPropertyOptional({ isArray: true })
  @IsOptional()
  @Matches(GROUP_RE, {
    each: true,
    message: 'each group must be 1-64 lower-case letters, digits, dot, dash or underscore',
  })
  @ArrayUnique()
  @ArrayMaxSize(50)
  groups?: string[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class UserDto {
  @ApiProperty() id: string;
  @ApiProperty() username: string;
  @ApiProperty() displayName: string;
  @ApiProperty({ nullable: true, type: String }) email: string | null;
  @ApiProperty({ isArray: true, type: String }) roles: string[];
  @ApiProperty({ isArray: true, type: String }) groups: string[];
  @ApiProperty() disabled: boolean;
  @ApiProperty() hasPassword: boolean;
  @ApiProperty({ nullable: true, type: String }) lastLoginAt: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

/** Built field by field, so the password hash can never ride along. */
export function toUserDto(u: UserEntity): UserDto {
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    email: u.email,
    roles: u.roles,
    groups: u.groups,
    disabled: u.disabled,
    hasPassword: u.passwordHash !== null,
    lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}
