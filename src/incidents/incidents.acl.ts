import { Injectable } from '@nestjs/common';
import { hasRole, type AclBuilder, type Principal } from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';

/**
 * Incidents (see incident-rules.ts `mayDo` for the same table): viewers read; responders declare,
 * note and run runbooks for an incident; the incident's commander (`commanderId`) or an admin
 * updates it: severity, status, roles and the editable fields.
 */
export function defineIncidentsAcl(p: Principal, { can }: AclBuilder): void {
  if (hasRole(p, 'viewer')) can('read', 'Incident');
  if (hasRole(p, 'responder')) {
    can('create', 'Incident');
    can('create', 'IncidentNote');
    can('run', 'Incident');
    can('update', 'Incident', { commanderId: p.id });
  }
  if (hasRole(p, 'admin')) can('manage', ['Incident', 'IncidentNote']);
}

@Injectable()
@AclRules()
export class IncidentsAcl implements AclProvider {
  define = defineIncidentsAcl;
}
