import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { NodeEntity } from './node.entity.js';
import { auditNamed, lockByRef } from './node-records.js';
import type { NodeView } from './node-views.js';
import { NodesService } from './nodes.service.js';
import { FINGERPRINT_RE } from './ssh-keys.js';

/**
 * Nodes' pinned SSH host keys: learned on first use, a mismatch recorded (the run refuses it),
 * forgotten after a rebuild. Every change is audited in the same transaction.
 */
@Injectable()
export class HostKeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly nodes: NodesService,
  ) {}

  /**
   * Pins a host key learned on first use, only if the node still has none and trusts on first
   * use. Returns whether it was pinned.
   */
  async learnHostKey(nodeId: string, fingerprint: string, ctx: AuditContext): Promise<boolean> {
    if (!FINGERPRINT_RE.test(fingerprint)) {
      throw new DomainException('VALIDATION_FAILED', `not a host key fingerprint: ${fingerprint}`);
    }
    return this.dataSource.transaction(async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(NodeEntity)
        .set({ hostKeyFingerprint: fingerprint })
        .where('id = :id AND host_key_fingerprint IS NULL AND trust_on_first_use', { id: nodeId })
        .returning(['name', 'hostname', 'port'])
        .execute();
      const row = (result.raw as Array<{ name: string; hostname: string; port: number }>)[0];
      if (!row) return false;
      await this.audit.record(
        ctx,
        {
          action: 'node.hostkey.learn',
          subjectType: 'Node',
          subjectId: nodeId,
          details: { name: row.name, hostname: row.hostname, port: row.port, fingerprint },
        },
        m,
      );
      return true;
    });
  }

  /** Records that a node presented another host key than the pinned one (the run refused it). */
  async reportHostKeyMismatch(
    nodeId: string,
    expected: string,
    got: string,
    ctx: AuditContext,
  ): Promise<void> {
    const node = await this.dataSource.getRepository(NodeEntity).findOneBy({ id: nodeId });
    await this.audit.record(ctx, {
      action: 'node.hostkey.mismatch',
      outcome: 'failure',
      subjectType: 'Node',
      subjectId: nodeId,
      details: {
        name: node?.name ?? null,
        hostname: node?.hostname ?? null,
        port: node?.port ?? null,
        expected,
        got,
      },
    });
  }

  /** Unpins a node's host key (after a rebuild); with trust on first use the next key is pinned. */
  async forgetHostKey(ref: string, ctx: AuditContext): Promise<NodeView> {
    const id = await this.dataSource.transaction(async (m) => {
      const node = await lockByRef(m, NodeEntity, 'Node', ref);
      if (node.hostKeyFingerprint) {
        const before = node.hostKeyFingerprint;
        node.hostKeyFingerprint = null;
        await m.save(node);
        await auditNamed(this.audit, m, ctx, 'Node', 'node.hostkey.forget', node.id, node.name, {
          fingerprint: before,
        });
      }
      return node.id;
    });
    return this.nodes.get(id);
  }
}
