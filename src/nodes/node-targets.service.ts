import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainException, notFound } from '../common/errors.js';
import type { CredentialSecret } from './credential-crypto.js';
import type { CredentialEntity } from './credential.entity.js';
import { CredentialsService } from './credentials.service.js';
import type { SshTarget } from './node-connection.js';
import type { NodeFilter } from './node-filter.schema.js';
import { NodeEntity } from './node.entity.js';
import { DEFAULT_USER, selectNodeViews, toResolvedNode, type ResolvedNode } from './node-views.js';

/**
 * What the execution engine asks of the inventory: which nodes a filter selects, and how to
 * reach one (the only place a credential's secret is decrypted).
 */
@Injectable()
export class NodeTargetsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: CredentialsService,
  ) {}

  /**
   * Enabled nodes matching the filter (names/globs, tags all/any, attributes, cluster,
   * exclusions), sorted by name. A filter naming a cluster that does not exist is an error, not
   * an empty answer. The built-in `localhost` is a target only when asked for: its exact name in
   * `named` (the nodes a caller picked) or in the filter's names, or one of its tags in the
   * filter; never through a glob or an empty filter.
   */
  async resolve(
    filter: NodeFilter | undefined,
    named: readonly string[] = [],
  ): Promise<ResolvedNode[]> {
    return (
      await selectNodeViews(this.dataSource.manager, filter, undefined, false, { named })
    ).map(toResolvedNode);
  }

  /** Host, port, user, decrypted secret and host key policy for one node. */
  async connectionTarget(nodeId: string): Promise<SshTarget> {
    const target = (await this.connectionTargets([nodeId])).get(nodeId);
    if (target instanceof Error) throw target;
    return target!;
  }

  /**
   * {@link connectionTarget} for many nodes in one query (a fan-out connects to all its nodes at
   * once: one round trip instead of one per node), each credential decrypted once. Every id
   * asked for has an entry: its target, or the error `connectionTarget` would throw for it.
   */
  async connectionTargets(nodeIds: readonly string[]): Promise<Map<string, SshTarget | Error>> {
    const ids = [...new Set(nodeIds)];
    const out = new Map<string, SshTarget | Error>();
    if (ids.length === 0) return out;
    // The nodes and their credentials in one query; getMany, as find's implicit paging over a
    // join makes TypeORM read the ids first.
    const nodes = await this.dataSource
      .getRepository(NodeEntity)
      .createQueryBuilder('n')
      .leftJoinAndSelect('n.credential', 'c')
      .where('n.id IN (:...ids)', { ids })
      .getMany();
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const secrets = new Map<string, Promise<CredentialSecret>>();
    for (const id of ids) {
      const node = byId.get(id);
      try {
        if (!node) throw notFound('Node', id);
        const checked = usable(node);
        let secret = secrets.get(checked.credential.id);
        if (!secret) {
          secret = this.credentials.decrypt(checked.credential, node.name);
          secrets.set(checked.credential.id, secret);
        }
        out.set(id, toTarget(node, checked.credential, await secret));
      } catch (error) {
        out.set(id, error as Error);
      }
    }
    return out;
  }
}

/** The node's credential, or why it cannot be connected to over SSH. */
function usable(node: NodeEntity): { credential: CredentialEntity } {
  if (node.disabled) {
    throw new DomainException('CONFLICT', `node "${node.name}" is disabled`, {
      node: node.name,
    });
  }
  if (node.connection === 'local') {
    throw new DomainException('CONFLICT', `node "${node.name}" is reached locally, not over SSH`, {
      node: node.name,
    });
  }
  if (!node.credentialId) {
    throw new DomainException(
      'CONFLICT',
      `node "${node.name}" has no credential: give it one (credential: NAME) before running on it`,
      { node: node.name },
    );
  }
  if (!node.credential) throw notFound('Credential', node.credentialId);
  return { credential: node.credential };
}

function toTarget(
  node: NodeEntity,
  credential: CredentialEntity,
  secret: CredentialSecret,
): SshTarget {
  return {
    node: node.name,
    host: node.hostname,
    port: node.port,
    username: node.username ?? credential.username ?? DEFAULT_USER,
    auth:
      secret.type === 'ssh-key'
        ? {
            type: 'key',
            privateKey: secret.privateKey,
            ...(secret.passphrase ? { passphrase: secret.passphrase } : {}),
          }
        : { type: 'password', password: secret.password },
    hostKey: { fingerprint: node.hostKeyFingerprint, trustOnFirstUse: node.trustOnFirstUse },
  };
}
