import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-http-bearer';
import type { Principal } from '../common/access/ability.js';
import { ApiTokensService } from './api-tokens.service.js';
import { toPrincipal } from './auth.service.js';

/** Scripts and integrations: `Authorization: Bearer fbk_…` personal API tokens. */
@Injectable()
export class ApiTokenStrategy extends PassportStrategy(Strategy, 'api-token') {
  constructor(private readonly tokens: ApiTokensService) {
    super();
  }

  async validate(presented: string): Promise<Principal> {
    const { user, token } = await this.tokens.authenticate(presented);
    return toPrincipal(user, 'token', token.id);
  }
}
