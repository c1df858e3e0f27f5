import { Injectable } from '@nestjs/common';
import { hasRole, type AclBuilder, type Principal } from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';

/** The audit trail is read and verified by admins; nobody, admins included, may change it. */
export function defineAuditAcl(p: Principal, { can, cannot }: AclBuilder): void {
  if (hasRole(p, 'admin')) can(['read', 'verify'], 'AuditEntry');
  cannot(['create', 'update', 'delete'], 'AuditEntry');
}

@Injectable()
@AclRules()
export class AuditAcl implements AclProvider {
  define = defineAuditAcl;
}
