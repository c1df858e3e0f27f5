import { Injectable } from '@nestjs/common';
import { hasRole, type AclBuilder, type Principal } from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';

/**
 * Users and API tokens. Admins manage users and may revoke anyone's token; everyone reads their
 * own profile and manages their own tokens.
 */
export function defineAuthAcl(p: Principal, { can }: AclBuilder): void {
  can('read', 'User', { id: p.id });
  can(['create', 'read', 'delete'], 'ApiToken', { userId: p.id });
  if (hasRole(p, 'admin')) {
    can('manage', 'User');
    can(['read', 'delete'], 'ApiToken');
  }
}

@Injectable()
@AclRules()
export class AuthAcl implements AclProvider {
  define = defineAuthAcl;
}
