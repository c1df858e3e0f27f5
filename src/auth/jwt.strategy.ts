import { createSecretKey } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import type { Principal } from '../common/access/ability.js';
import { AuthService, type JwtClaims } from './auth.service.js';
import { sessionCookieOf } from './session-cookie.js';

/** Sessions (bearer header or the console's cookie): short-lived HS256 JWTs signed with a key derived from SECRET_KEY. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly auth: AuthService,
  ) {
    super({
      // The bearer header (API clients, the CLI), else the console's session cookie; the
      // guard applies the cookie's origin and CSRF checks.
      jwtFromRequest: ExtractJwt.fromExtractors([
        ExtractJwt.fromAuthHeaderAsBearerToken(),
        (req) => sessionCookieOf(req) ?? null,
      ]),
      // A KeyObject: given bytes, jsonwebtoken first tries them as a public key and throws,
      // on every request.
      secretOrKey: createSecretKey(deriveKey(config.secretKey, 'jwt')) as unknown as Buffer,
      algorithms: ['HS256'],
      issuer: 'firebreak',
      audience: 'firebreak',
      ignoreExpiration: false,
    });
  }

  validate(claims: JwtClaims): Promise<Principal> {
    return this.auth.principalFromClaims(claims);
  }
}
