import { Injectable } from '@nestjs/common';
import { hasRole, type AclBuilder, type Principal } from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';

/** Integrations (alert sources) are created and read by admins only: they hold roles. */
export function defineAlertsAcl(p: Principal, { can }: AclBuilder): void {
  if (hasRole(p, 'admin')) can('manage', 'Integration');
}

@Injectable()
@AclRules()
export class AlertsAcl implements AclProvider {
  define = defineAlertsAcl;
}
