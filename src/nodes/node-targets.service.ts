import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainException, notFound } from '../common/errors.js';
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
    // The node and its credential in one query (once per node per execution); getOne, as
    // findOne's implicit take 1 over a join makes TypeORM read the ids first.
    const node = await this.dataSource
      .getRepository(NodeEntity)
      .createQueryBuilder('n')
      .leftJoinAndSelect('n.credential', 'c')
      .where('n.id = :id', { id: nodeId })
      .getOne();
    if (!node) throw notFound('Node', nodeId);
    if (node.disabled) {
      throw new DomainException('CONFLICT', `node "${node.name}" is disabled`, {
        node: node.name,
      });
    }
    if (node.connection === 'local') {
      throw new DomainException(
        'CONFLICT',
        `node "${node.name}" is reached locally, not over SSH`,
        { node: node.name },
      );
    }
    if (!node.credentialId) {
      throw new DomainException(
        'CONFLICT',
        `node "${node.name}" has no credential: give it one (credential: NAME) before running on it`,
        { node: node.name },
      );
    }
    const credential = node.credential;
    if (!credential) throw notFound('Credential', node.credentialId);
    const secret = await this.credentials.decrypt(credential, node.name);
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
}
