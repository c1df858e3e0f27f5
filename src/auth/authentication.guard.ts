import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { DomainException } from '../common/errors.js';
import { IS_PUBLIC } from '../common/public.decorator.js';
import { RouteMetadataCache } from '../common/route-metadata.js';
import type { FirebreakRequest } from '../common/request-context.js';
import { API_TOKEN_PREFIX } from './secrets.js';
import type { Principal } from '../common/access/ability.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { checkCookieRequest, sessionCookieOf } from './session-cookie.js';

function mapFailure(err: unknown, user: unknown, info: unknown): Principal {
  if (err)
    throw err instanceof DomainException
      ? err
      : new DomainException('AUTH_TOKEN_INVALID', 'invalid credentials');
  if (!user) {
    const name = (info as { name?: string } | undefined)?.name;
    if (name === 'TokenExpiredError')
      throw new DomainException('AUTH_TOKEN_EXPIRED', 'the session has expired; log in again');
    throw new DomainException('AUTH_TOKEN_INVALID', 'invalid or malformed bearer token');
  }
  return user as Principal;
}

class JwtGuard extends AuthGuard('jwt') {
  override handleRequest<T>(err: unknown, user: unknown, info: unknown): T {
    return mapFailure(err, user, info) as T;
  }
}

class ApiTokenGuard extends AuthGuard('api-token') {
  override handleRequest<T>(err: unknown, user: unknown, info: unknown): T {
    return mapFailure(err, user, info) as T;
  }
}

/**
 * Global and default-deny: every route needs a session (JWT) or an API token unless it is marked
 * `@Public()`. The token's shape picks the passport strategy. Without an Authorization header,
 * the console's session cookie is the session JWT (session-cookie.ts: same-origin only, and an
 * unsafe method must carry the CSRF token). On success the request carries
 * the principal and its CASL ability, built once for the request.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly jwt = new JwtGuard();
  private readonly apiToken = new ApiTokenGuard();
  private readonly isPublic: RouteMetadataCache<boolean>;

  constructor(
    reflector: Reflector,
    private readonly abilities: AbilityFactory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.isPublic = new RouteMetadataCache(reflector, IS_PUBLIC);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic.get(context)) return true;
    const req = context.switchToHttp().getRequest<FirebreakRequest>();
    const header = req.headers.authorization;
    const cookie = header ? undefined : sessionCookieOf(req);
    if (cookie) {
      // The JWT strategy reads the header, else this cookie (jwt.strategy.ts).
      await this.jwt.canActivate(context);
      req.principal = req.user as Principal;
      if (!req.principal.sessionId)
        throw new DomainException('AUTH_TOKEN_INVALID', 'the session cookie is not a session');
      checkCookieRequest(req, this.config, req.principal.sessionId);
      req.ability = this.abilities.create(req.principal);
      return true;
    }
    if (!header)
      throw new DomainException(
        'AUTH_REQUIRED',
        'authentication required: send Authorization: Bearer <session or API token>',
      );
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new DomainException(
        'AUTH_TOKEN_INVALID',
        'the Authorization header must be "Bearer <token>"',
      );
    const guard = match[1].startsWith(API_TOKEN_PREFIX) ? this.apiToken : this.jwt;
    await guard.canActivate(context);
    req.principal = req.user as Principal;
    req.ability = this.abilities.create(req.principal);
    return true;
  }
}
