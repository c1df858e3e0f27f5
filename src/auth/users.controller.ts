import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import type { AppAbility } from '../common/access/ability.js';
import { Audit, CurrentAbility } from './current.decorator.js';
import { CreateUserDto, UpdateUserDto, UserDto, toUserDto } from './users.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@ApiBearerAuth()
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @CheckAbility('manage', 'User')
  @ApiOperation({ summary: 'List users (admin)' })
  @ApiOkResponse({ type: UserDto, isArray: true })
  async list(): Promise<UserDto[]> {
    return (await this.users.list()).map(toUserDto);
  }

  @Post()
  @CheckAbility('create', 'User')
  @ApiOperation({ summary: 'Create a user with roles and groups (admin)' })
  @ApiOkResponse({ type: UserDto })
  async create(@Body() body: CreateUserDto, @Audit() ctx: AuditContext): Promise<UserDto> {
    return toUserDto(await this.users.create(body, ctx));
  }

  @Get(':id')
  @CheckAbility('read', 'User')
  @ApiOperation({ summary: 'Get a user (admin, or yourself)' })
  @ApiOkResponse({ type: UserDto })
  async get(
    @Param('id', ParseUUIDPipe) id: string,
    @CurrentAbility() ability: AppAbility,
  ): Promise<UserDto> {
    return toUserDto(await this.users.get(id, ability));
  }

  @Patch(':id')
  @CheckAbility('update', 'User')
  @ApiOperation({ summary: 'Edit a user: name, email, password, roles, groups, disable (admin)' })
  @ApiOkResponse({ type: UserDto })
  async update(
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UpdateUserDto,
    @Audit() ctx: AuditContext,
  ): Promise<UserDto> {
    return toUserDto(await this.users.update(id, body, ctx));
  }
}
