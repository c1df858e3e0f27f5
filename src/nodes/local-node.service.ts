import { arch, hostname, platform, userInfo } from 'node:os';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { NODES_LOCK } from './inventory-sync.service.js';
import { NodeEntity } from './node.entity.js';
import { auditNamed, type NodeFields } from './node-records.js';
import { upsertByName } from './upsert.js';

/** The name of the built-in node that is the Firebreak host itself. */
export const LOCAL_NODE_NAME = 'localhost';

/**
 * The built-in `localhost` node, like Rundeck's server node: the Firebreak host itself, reached
 * through the local executor (no SSH, no credential). Ensured at every start of an api process
 * (source `builtin`, connection `local`, tag `local`, attributes os/arch/hostname); the API
 * cannot edit it. With LOCAL_NODE=false it is deleted instead. A node named `localhost` that
 * came from elsewhere (the inventory file, the API, an import) is left alone.
 */
@Injectable()
export class LocalNodeService implements OnApplicationBootstrap {
  private readonly logger = new Logger(LocalNodeService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    try {
      await this.ensure();
    } catch (err) {
      this.logger.error(`the built-in localhost node: ${(err as Error).message}`);
    }
  }

  /** The user local commands run as: the unprivileged run user when the service is root. */
  private runUser(): string {
    return process.getuid?.() === 0 ? this.config.localRunUser : userInfo().username;
  }

  async ensure(): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [NODES_LOCK]);
      const cur =
        (await m.findOne(NodeEntity, {
          where: { name: LOCAL_NODE_NAME },
          lock: { mode: 'pessimistic_write' },
        })) ?? undefined;
      if (cur && cur.source !== 'builtin') {
        if (this.config.localNode)
          this.logger.warn(
            `a node named ${LOCAL_NODE_NAME} already exists (source ${cur.source}): the built-in local node is not created`,
          );
        return;
      }
      if (!this.config.localNode) {
        if (!cur) return;
        await m.delete(NodeEntity, { id: cur.id });
        await auditNamed(this.audit, m, SYSTEM_ACTOR, 'Node', 'node.delete', cur.id, cur.name, {
          source: 'builtin',
          reason: 'LOCAL_NODE=false',
        });
        return;
      }
      const fields: NodeFields = {
        hostname: LOCAL_NODE_NAME,
        port: 22,
        username: this.runUser(),
        tags: ['local'],
        attributes: { os: platform(), arch: arch(), hostname: hostname() },
        credentialId: null,
        hostKeyFingerprint: null,
        trustOnFirstUse: false,
        source: 'builtin',
        sourcePath: null,
        disabled: false,
        connection: 'local',
      };
      const r = await upsertByName(m, NodeEntity, LOCAL_NODE_NAME, cur, fields);
      if (r.outcome === 'unchanged') return;
      await auditNamed(
        this.audit,
        m,
        SYSTEM_ACTOR,
        'Node',
        r.outcome === 'created' ? 'node.create' : 'node.update',
        r.row.id,
        LOCAL_NODE_NAME,
        r.outcome === 'created' ? { ...fields } : { changed: r.changed },
      );
    });
  }
}
