import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { notFound } from '../common/errors.js';
import type { NodeListQuery } from './node-query.js';
import { NodeEntity } from './node.entity.js';
import {
  auditNamed,
  builtinNode,
  byRef,
  changes,
  credentialIdByName,
  lockByRef,
  managedByFile,
  stripUndefined,
  type NodeFields,
} from './node-records.js';
import { loadNodeViews, selectNodeViews, type NodeView } from './node-views.js';
import { insertNew } from './upsert.js';

export interface NodeInput {
  name: string;
  hostname?: string;
  port?: number;
  user?: string | null;
  tags?: string[];
  attributes?: Record<string, string>;
  credential?: string | null;
  hostKey?: string | null;
  trustOnFirstUse?: boolean;
  disabled?: boolean;
}

/**
 * Nodes through the API: list (by node filter), read, create, edit, disable, delete. Nodes from
 * the inventory file are edited in the file (InventorySyncService); every change is audited in
 * the same transaction.
 */
@Injectable()
export class NodesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Nodes matching a list query (disabled ones only when asked), sorted by name. */
  list(q: NodeListQuery): Promise<NodeView[]> {
    return selectNodeViews(this.dataSource.manager, q.filter, undefined, q.includeDisabled);
  }

  /** A node by id or name. */
  async get(ref: string): Promise<NodeView> {
    const node = await this.dataSource.getRepository(NodeEntity).findOneBy(byRef(ref));
    if (!node) throw notFound('Node', ref);
    const { views } = await loadNodeViews(this.dataSource.manager, true);
    return views.find((v) => v.node.id === node.id)!;
  }

  async createNode(input: NodeInput, ctx: AuditContext): Promise<NodeView> {
    const id = await this.dataSource.transaction(async (m) => {
      const credentialId = (await credentialIdByName(m, input.credential)) ?? null;
      const fields: NodeFields = {
        hostname: input.hostname ?? input.name,
        port: input.port ?? 22,
        username: input.user ?? null,
        tags: input.tags ?? [],
        attributes: input.attributes ?? {},
        credentialId,
        hostKeyFingerprint: input.hostKey ?? null,
        trustOnFirstUse: input.trustOnFirstUse ?? false,
        source: 'api',
        sourcePath: null,
        disabled: input.disabled ?? false,
        connection: 'ssh',
      };
      const nodeId = await insertNew(m, NodeEntity, 'node', { name: input.name, ...fields });
      await this.auditNode(m, ctx, 'node.create', nodeId, input.name, {
        ...fields,
        credential: input.credential ?? null,
      });
      return nodeId;
    });
    return this.get(id);
  }

  async updateNode(
    ref: string,
    input: Omit<NodeInput, 'name'>,
    ctx: AuditContext,
  ): Promise<NodeView> {
    const id = await this.dataSource.transaction(async (m) => {
      const node = await this.lockNode(m, ref);
      if (node.source === 'file') throw managedByFile('node', node.name, node.sourcePath);
      if (node.source === 'builtin') throw builtinNode(node.name);
      const credentialId = await credentialIdByName(m, input.credential);
      const after: Partial<NodeFields> = {
        hostname: input.hostname,
        port: input.port,
        username: input.user,
        tags: input.tags,
        attributes: input.attributes,
        credentialId,
        hostKeyFingerprint: input.hostKey,
        trustOnFirstUse: input.trustOnFirstUse,
        disabled: input.disabled,
      };
      const changed = changes(node, after);
      if (Object.keys(changed).length === 0) return node.id;
      const wasDisabled = node.disabled;
      Object.assign(node, stripUndefined(after));
      await m.save(node);
      if (changed.credentialId) changed.credential = { to: input.credential ?? null };
      await this.auditNode(
        m,
        ctx,
        node.disabled && !wasDisabled ? 'node.disable' : 'node.update',
        node.id,
        node.name,
        { changed },
      );
      return node.id;
    });
    return this.get(id);
  }

  /** Deletes a node made through the API or an import; inventory nodes are removed from the file. */
  async deleteNode(ref: string, ctx: AuditContext): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const node = await this.lockNode(m, ref);
      if (node.source === 'file') throw managedByFile('node', node.name, node.sourcePath);
      if (node.source === 'builtin') throw builtinNode(node.name);
      await m.delete(NodeEntity, { id: node.id });
      await this.auditNode(m, ctx, 'node.delete', node.id, node.name, {
        hostname: node.hostname,
        source: node.source,
      });
    });
  }

  private lockNode(m: EntityManager, ref: string): Promise<NodeEntity> {
    return lockByRef(m, NodeEntity, 'Node', ref);
  }

  private auditNode(
    m: EntityManager,
    ctx: AuditContext,
    action: string,
    id: string,
    name: string,
    details: Record<string, unknown>,
  ) {
    return auditNamed(this.audit, m, ctx, 'Node', action, id, name, details);
  }
}
