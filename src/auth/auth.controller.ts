import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { clearSessionCookies, csrfTokenFor, setSessionCookies } from './session-cookie.js';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { subject } from '@casl/ability';
import type { AuditContext } from '../audit/audit.service.js';
import { AuditService } from '../audit/audit.service.js';
import { Public } from '../common/public.decorator.js';
import { auditContextOf } from '../audit/request-audit.js';
import type { FirebreakRequest } from '../common/request-context.js';
import { denied } from './ability.guard.js';
import { ApiTokensService } from './api-tokens.service.js';
import {
  ApiTokenDto,
  CreateApiTokenDto,
  CreatedApiTokenDto,
  LoginDto,
  LoginResultDto,
  toApiTokenDto,
} from './auth.dto.js';
import { AuthService } from './auth.service.js';
import { SessionsService } from './sessions.service.js';
import { DomainException } from '../common/errors.js';
import type { AppAbility, Principal } from '../common/access/ability.js';
import { Audit, CurrentAbility, CurrentPrincipal } from './current.decorator.js';
import { UserDto, toUserDto } from './users.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('auth')
@ApiBearerAuth()
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly tokens: ApiTokensService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Password login; returns a short-lived session token (JWT)' })
  @ApiOkResponse({ type: LoginResultDto })
  async login(
    @Body() body: LoginDto,
    @Req() req: FirebreakRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LoginResultDto> {
    const { accessToken, expiresIn, sessionId } = await this.auth.login(
      body.username,
      body.password,
      auditContextOf(req),
    );
    if (!body.cookie) return { accessToken, tokenType: 'Bearer', expiresIn };
    // The console: the JWT goes only into the HttpOnly cookie, never to page scripts.
    const csrfToken = csrfTokenFor(this.config, sessionId);
    setSessionCookies(res, this.config, accessToken, csrfToken);
    return { tokenType: 'Cookie', expiresIn, csrfToken };
  }

  @Post('logout')
  @HttpCode(204)
  @ApiOperation({
    summary: 'End the current session: its token is refused from now on (API tokens: revoke them)',
  })
  async logout(
    @CurrentPrincipal() p: Principal,
    @Audit() ctx: AuditContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    if (p.via !== 'session' || !p.sessionId) {
      throw new DomainException(
        'VALIDATION_FAILED',
        'Authorization: logout ends a session, and this request carries an API token; revoke it with DELETE /auth/tokens/:id',
        [{ path: 'Authorization', message: 'an API token, not a session' }],
      );
    }
    await this.sessions.end(p.sessionId, ctx);
    clearSessionCookies(res, this.config);
  }

  @Get('me')
  @ApiOperation({ summary: 'The caller: profile, roles and groups' })
  @ApiOkResponse({ type: UserDto })
  async me(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
  ): Promise<UserDto & { via: string }> {
    return { ...toUserDto(await this.users.get(p.id, ability)), via: p.via };
  }

  @Get('tokens')
  @ApiOperation({ summary: "List the caller's API tokens (admins: any user's, with ?userId=)" })
  @ApiQuery({ name: 'userId', required: false })
  @ApiOkResponse({ type: ApiTokenDto, isArray: true })
  async listTokens(
    @CurrentPrincipal() p: Principal,
    @CurrentAbility() ability: AppAbility,
    @Req() req: FirebreakRequest,
    @Query('userId', new ParseUUIDPipe({ optional: true })) userId?: string,
  ): Promise<ApiTokenDto[]> {
    const owner = userId ?? p.id;
    if (!ability.can('read', subject('ApiToken', { userId: owner }))) {
      throw await denied(this.audit, req, 'read', 'ApiToken', owner);
    }
    return (await this.tokens.listFor(owner)).map(toApiTokenDto);
  }

  @Post('tokens')
  @ApiOperation({ summary: 'Create a personal API token; the token is shown once' })
  @ApiOkResponse({ type: CreatedApiTokenDto })
  async createToken(
    @Body() body: CreateApiTokenDto,
    @CurrentPrincipal() p: Principal,
    @Audit() ctx: AuditContext,
  ): Promise<CreatedApiTokenDto> {
    const { entity, token } = await this.tokens.create(
      p,
      { name: body.name, expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined },
      ctx,
    );
    return { ...toApiTokenDto(entity), token };
  }

  @Delete('tokens/:id')
  @ApiOperation({ summary: 'Revoke an API token (your own; admins: anyone’s)' })
  @ApiOkResponse({ type: ApiTokenDto })
  async revokeToken(
    @Param('id', ParseUUIDPipe) id: string,
    @CurrentAbility() ability: AppAbility,
    @Audit() ctx: AuditContext,
  ): Promise<ApiTokenDto> {
    return toApiTokenDto(await this.tokens.revoke(id, ability, ctx));
  }
}
