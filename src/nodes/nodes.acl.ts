import { Injectable } from '@nestjs/common';
import { hasRole, type AclBuilder, type Principal } from '../common/access/ability.js';
import { AclRules, type AclProvider } from '../common/access/acl.decorator.js';

/**
 * Nodes, clusters and credentials.
 *
 * - viewers and up read nodes and clusters (and preview which nodes a filter selects): knowing
 *   where a runbook will run is part of deciding to run it;
 * - operators and up also read credential metadata (name, type, user, public key fingerprint),
 *   to see which key a node logs in with. Secrets are write-only for everyone: no route
 *   returns them;
 * - admins create, edit, sync, import and delete nodes, clusters and credentials.
 *
 * Responders sit between viewers and operators and get the viewer rules here.
 */
export function defineNodesAcl(p: Principal, { can }: AclBuilder): void {
  if (hasRole(p, 'viewer')) can('read', ['Node', 'Cluster']);
  if (hasRole(p, 'operator')) can('read', 'Credential');
  if (hasRole(p, 'admin')) can('manage', ['Node', 'Cluster', 'Credential']);
}

@Injectable()
@AclRules()
export class NodesAcl implements AclProvider {
  define = defineNodesAcl;
}
