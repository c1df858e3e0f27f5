import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { notFound, validationFailed } from '../common/errors.js';
import { ClusterEntity } from './cluster.entity.js';
import type { NodeFilter } from './node-filter.schema.js';
import {
  auditNamed,
  changes,
  lockByRef,
  managedByFile,
  stripUndefined,
  type ClusterFields,
} from './node-records.js';
import { loadNodeViews } from './node-views.js';
import { UUID_RE } from './refs.js';
import { insertNew } from './upsert.js';

export interface ClusterInput {
  name: string;
  description?: string;
  nodes?: string[];
  filter?: Omit<NodeFilter, 'cluster'>;
}

export interface ClusterWithMembers {
  cluster: ClusterEntity;
  members: string[];
}

/**
 * Clusters: named groups of nodes, by node names/globs or by a node filter, with members
 * computed from the current inventory. Those from the inventory file are edited in the file.
 */
@Injectable()
export class ClustersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Clusters with their current enabled members. */
  async listClusters(): Promise<ClusterWithMembers[]> {
    const { views, clusters } = await loadNodeViews(this.dataSource.manager, false);
    return clusters.map((cluster) => ({
      cluster,
      members: views.filter((v) => v.clusters.includes(cluster.name)).map((v) => v.node.name),
    }));
  }

  async getCluster(ref: string): Promise<ClusterWithMembers> {
    const found = (await this.listClusters()).find((c) =>
      UUID_RE.test(ref) ? c.cluster.id === ref : c.cluster.name === ref,
    );
    if (!found) throw notFound('Cluster', ref);
    return found;
  }

  private clusterMembership(input: Pick<ClusterInput, 'nodes' | 'filter'>) {
    if (Boolean(input.nodes) === Boolean(input.filter)) {
      throw validationFailed([
        {
          path: 'nodes',
          message: input.nodes
            ? 'give nodes or filter, not both'
            : 'give nodes (names or globs) or filter',
        },
      ]);
    }
    return {
      nodeNames: input.nodes ?? null,
      filter: input.filter ? (stripUndefined(input.filter) as NodeFilter) : null,
    };
  }

  async createCluster(input: ClusterInput, ctx: AuditContext): Promise<ClusterWithMembers> {
    const membership = this.clusterMembership(input);
    const id = await this.dataSource.transaction(async (m) => {
      const fields: ClusterFields = {
        description: input.description ?? '',
        ...membership,
        source: 'api',
        sourcePath: null,
      };
      const clusterId = await insertNew(m, ClusterEntity, 'cluster', {
        name: input.name,
        ...fields,
      });
      await this.auditCluster(m, ctx, 'cluster.create', clusterId, input.name, { ...fields });
      return clusterId;
    });
    return this.getCluster(id);
  }

  async updateCluster(
    ref: string,
    input: Omit<ClusterInput, 'name'>,
    ctx: AuditContext,
  ): Promise<ClusterWithMembers> {
    if (input.nodes && input.filter) this.clusterMembership(input);
    const id = await this.dataSource.transaction(async (m) => {
      const cluster = await this.lockCluster(m, ref);
      if (cluster.source === 'file')
        throw managedByFile('cluster', cluster.name, cluster.sourcePath);
      const after: Partial<ClusterFields> = { description: input.description };
      if (input.nodes || input.filter) Object.assign(after, this.clusterMembership(input));
      const changed = changes(cluster, after);
      if (Object.keys(changed).length) {
        Object.assign(cluster, stripUndefined(after));
        await m.save(cluster);
        await this.auditCluster(m, ctx, 'cluster.update', cluster.id, cluster.name, { changed });
      }
      return cluster.id;
    });
    return this.getCluster(id);
  }

  async deleteCluster(ref: string, ctx: AuditContext): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const cluster = await this.lockCluster(m, ref);
      if (cluster.source === 'file')
        throw managedByFile('cluster', cluster.name, cluster.sourcePath);
      await m.delete(ClusterEntity, { id: cluster.id });
      await this.auditCluster(m, ctx, 'cluster.delete', cluster.id, cluster.name, {
        source: cluster.source,
      });
    });
  }

  private lockCluster(m: EntityManager, ref: string): Promise<ClusterEntity> {
    return lockByRef(m, ClusterEntity, 'Cluster', ref);
  }

  private auditCluster(
    m: EntityManager,
    ctx: AuditContext,
    action: string,
    id: string,
    name: string,
    details: Record<string, unknown>,
  ) {
    return auditNamed(this.audit, m, ctx, 'Cluster', action, id, name, details);
  }
}
