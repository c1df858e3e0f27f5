import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { readAnsibleInventory } from './ansible-inventory.parser.js';
import { readRundeckResources, type RundeckFormat } from './rundeck-resources.js';
import { ClusterEntity } from './cluster.entity.js';
import { CredentialEntity } from './credential.entity.js';
import { parseInventory, type InventoryProblem } from './inventory.parser.js';
import { NodeEntity } from './node.entity.js';
import {
  auditNamed,
  credentialIdByName,
  lockAllByName,
  stripUndefined,
  type ClusterFields,
  type NodeFields,
} from './node-records.js';
import { upsertByName } from './upsert.js';

export interface InventorySyncReport {
  at: string;
  directory: string;
  /** The file read, relative to the directory; null when there is none (nothing changes). */
  file: string | null;
  /** Whether the file was valid and applied. */
  applied: boolean;
  nodes: { created: string[]; updated: string[]; disabled: string[]; unchanged: string[] };
  clusters: { created: string[]; updated: string[]; deleted: string[]; unchanged: string[] };
  problems: InventoryProblem[];
}

/** What an import of nodes from another tool's inventory did (Ansible, Rundeck). */
export interface NodeImportReport {
  format: 'ini' | 'yaml' | 'xml' | 'json';
  created: string[];
  updated: string[];
  unchanged: string[];
  skipped: Array<{ name: string; reason: string }>;
  clusters: {
    created: string[];
    updated: string[];
    unchanged: string[];
    skipped: Array<{ name: string; reason: string }>;
  };
  /** Variables not imported: connection settings other than host/port/user, and secrets. */
  ignoredVars: string[];
  /** Vault-encrypted values, never imported: the host and variable, never the value. */
  vaultVars: Array<{ host: string; variable: string }>;
  /** Rundeck: attributes not imported, per node (credential references, executors), never values. */
  notImported?: Array<{ node: string; attribute: string; reason: string }>;
}

export type AnsibleImportReport = NodeImportReport;

/** A host as an importer read it: what the shared upsert writes. */
interface ImportedHost {
  name: string;
  hostname: string;
  port: number;
  username: string | null;
  connection: 'ssh' | 'local';
  attributes: Record<string, string>;
  /** Tags, when the source has them (Rundeck); Ansible hosts have none. */
  tags?: string[];
}

interface ImportedInventory {
  kind: 'ansible' | 'rundeck';
  format: NodeImportReport['format'];
  hosts: ImportedHost[];
  clusters: Array<{ name: string; nodes: string[] }>;
  ignoredVars: string[];
  vaultVars: Array<{ host: string; variable: string }>;
  notImported?: NodeImportReport['notImported'];
}

const INVENTORY_FILES = ['inventory.yaml', 'inventory.yml'];
export const NODES_LOCK = 0x46424e44; // 'FBND': inventory sync and imports take turns

export function inventoryInvalid(problems: InventoryProblem[]): DomainException {
  return new DomainException(
    'VALIDATION_FAILED',
    problems
      .map((p) => `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`)
      .join('; '),
    problems,
  );
}

/**
 * Nodes and clusters from files: `inventory.yaml` beside the runbooks (synced at start and on
 * demand) and Ansible inventories (imported through the API). Both write through one upsert
 * and take turns under one advisory lock; every change is audited in the same transaction.
 */
@Injectable()
export class InventorySyncService implements OnApplicationBootstrap {
  private readonly logger = new Logger(InventorySyncService.name);
  private lastSync: InventorySyncReport | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    // A broken inventory is reported, never fatal: the service must start during an incident.
    try {
      await this.sync(SYSTEM_ACTOR);
    } catch (err) {
      this.logger.error(`inventory sync at start-up failed: ${(err as Error).message}`);
    }
  }

  get lastSyncReport(): InventorySyncReport | null {
    return this.lastSync;
  }

  private async readInventoryFile(): Promise<{ path: string; text: string } | null> {
    for (const name of INVENTORY_FILES) {
      try {
        return { path: name, text: await readFile(join(this.config.runbooksDir, name), 'utf8') };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return null;
  }

  /**
   * Reads `RUNBOOKS_DIR/inventory.yaml` and makes the stored inventory match it: nodes and
   * clusters created or updated, file nodes no longer listed disabled (never deleted), file
   * clusters no longer listed deleted. Nodes and clusters made through the API or an import
   * are left alone unless the file names them, which makes them the file's. An invalid file
   * changes nothing; with no file, nothing changes either.
   */
  async sync(ctx: AuditContext): Promise<InventorySyncReport> {
    const report: InventorySyncReport = {
      at: new Date().toISOString(),
      directory: this.config.runbooksDir,
      file: null,
      applied: false,
      nodes: { created: [], updated: [], disabled: [], unchanged: [] },
      clusters: { created: [], updated: [], deleted: [], unchanged: [] },
      problems: [],
    };
    const found = await this.readInventoryFile();
    if (!found) {
      this.lastSync = report;
      return report;
    }
    report.file = found.path;
    const credentials = await this.dataSource
      .getRepository(CredentialEntity)
      .find({ select: { id: true, name: true } });
    const credentialIds = new Map(credentials.map((c) => [c.name, c.id]));
    const parsed = parseInventory(found.path, found.text, {
      credentials: new Set(credentialIds.keys()),
    });
    if (!parsed.ok) {
      report.problems = parsed.problems;
      await this.audit.record(ctx, {
        action: 'node.sync',
        outcome: 'failure',
        details: { file: found.path, problems: parsed.problems.length, applied: false },
      });
      for (const p of parsed.problems)
        this.logger.warn(`${p.file}:${p.line}:${p.col} ${p.message}`);
      this.lastSync = report;
      return report;
    }
    const { nodes, clusters } = parsed.inventory;
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [NODES_LOCK]);
      const existing = await lockAllByName(m, NodeEntity);
      for (const n of nodes) {
        const cur = existing.get(n.name);
        if (cur?.source === 'builtin') {
          this.logger.warn(
            `${found.path}: node "${n.name}" is the built-in local node; the file's entry is ignored (set LOCAL_NODE=false to define it in the file)`,
          );
          continue;
        }
        const hostname = n.hostname ?? n.name;
        const port = n.port ?? 22;
        // A key learned on first use stays pinned while the node is the same host and port.
        const learned =
          cur && cur.hostname === hostname && cur.port === port ? cur.hostKeyFingerprint : null;
        const fields: NodeFields = {
          hostname,
          port,
          username: n.user ?? null,
          tags: n.tags ?? [],
          attributes: n.attributes ?? {},
          credentialId: n.credential ? credentialIds.get(n.credential)! : null,
          hostKeyFingerprint: n.hostKey ?? learned,
          trustOnFirstUse: n.trustOnFirstUse ?? false,
          source: 'file',
          sourcePath: found.path,
          disabled: n.disabled ?? false,
          connection: 'ssh',
        };
        const wasDisabled = cur?.disabled;
        const r = await upsertByName(m, NodeEntity, n.name, cur, fields);
        if (r.outcome === 'created') {
          await this.auditNode(m, ctx, 'node.create', r.row.id, n.name, {
            ...fields,
            credential: n.credential ?? null,
          });
          report.nodes.created.push(n.name);
        } else if (r.outcome === 'unchanged') {
          report.nodes.unchanged.push(n.name);
        } else {
          const disabled = r.row.disabled && !wasDisabled;
          await this.auditNode(
            m,
            ctx,
            disabled ? 'node.disable' : 'node.update',
            r.row.id,
            r.row.name,
            { changed: r.changed },
          );
          (disabled ? report.nodes.disabled : report.nodes.updated).push(n.name);
        }
      }
      const listed = new Set(nodes.map((n) => n.name));
      for (const cur of existing.values()) {
        if (cur.source !== 'file' || listed.has(cur.name) || cur.disabled) continue;
        cur.disabled = true;
        await m.save(cur);
        await this.auditNode(m, ctx, 'node.disable', cur.id, cur.name, {
          reason: `no longer in ${found.path}`,
        });
        report.nodes.disabled.push(cur.name);
      }

      const existingClusters = await lockAllByName(m, ClusterEntity);
      for (const c of clusters) {
        const fields: ClusterFields = {
          description: c.description ?? '',
          filter: c.filter ? stripUndefined(c.filter) : null,
          nodeNames: c.nodes ?? null,
          source: 'file',
          sourcePath: found.path,
        };
        const r = await upsertByName(
          m,
          ClusterEntity,
          c.name,
          existingClusters.get(c.name),
          fields,
        );
        if (r.outcome === 'created') {
          await this.auditCluster(m, ctx, 'cluster.create', r.row.id, c.name, { ...fields });
          report.clusters.created.push(c.name);
        } else if (r.outcome === 'unchanged') {
          report.clusters.unchanged.push(c.name);
        } else {
          await this.auditCluster(m, ctx, 'cluster.update', r.row.id, r.row.name, {
            changed: r.changed,
          });
          report.clusters.updated.push(c.name);
        }
      }
      const listedClusters = new Set(clusters.map((c) => c.name));
      for (const cur of existingClusters.values()) {
        if (cur.source !== 'file' || listedClusters.has(cur.name)) continue;
        await m.delete(ClusterEntity, { id: cur.id });
        await this.auditCluster(m, ctx, 'cluster.delete', cur.id, cur.name, {
          reason: `no longer in ${found.path}`,
        });
        report.clusters.deleted.push(cur.name);
      }

      const { nodes: rn, clusters: rc } = report;
      if (
        rn.created.length +
          rn.updated.length +
          rn.disabled.length +
          rc.created.length +
          rc.updated.length +
          rc.deleted.length >
        0
      ) {
        await this.audit.record(
          ctx,
          {
            action: 'node.sync',
            details: {
              file: found.path,
              applied: true,
              nodes: { created: rn.created, updated: rn.updated, disabled: rn.disabled },
              clusters: { created: rc.created, updated: rc.updated, deleted: rc.deleted },
            },
          },
          m,
        );
      }
    });
    report.applied = true;
    this.lastSync = report;
    return report;
  }

  /**
   * Imports an Ansible inventory: hosts become nodes (source `ansible`), groups become clusters
   * with explicit node lists. Existing nodes and clusters are updated by name, except those the
   * inventory file owns (skipped, and said so). Nothing is stored when the inventory is invalid.
   */
  async importAnsible(
    text: string,
    format: 'ini' | 'yaml',
    ctx: AuditContext,
    options: { credential?: string } = {},
  ): Promise<NodeImportReport> {
    const read = readAnsibleInventory(text, format);
    if (!read.ok) throw inventoryInvalid(read.problems);
    return this.importHosts({ kind: 'ansible', format, ...read.result }, ctx, options);
  }

  /**
   * Imports a Rundeck resource model (resources.yaml, .xml or .json): nodes with their tags and
   * attributes, through the same upsert, lock and audit as the Ansible import. Rundeck has no
   * groups, so no clusters; credential references are named in the report, never imported.
   * Nothing is stored when the document is invalid.
   */
  async importRundeck(
    text: string,
    format: RundeckFormat,
    ctx: AuditContext,
    options: { credential?: string } = {},
  ): Promise<NodeImportReport> {
    const read = readRundeckResources(text, format);
    if (!read.ok) throw inventoryInvalid(read.problems);
    const { nodes, notImported } = read.result;
    return this.importHosts(
      {
        kind: 'rundeck',
        format,
        hosts: nodes,
        clusters: [],
        ignoredVars: [...new Set(notImported.map((n) => n.attribute))],
        vaultVars: [],
        notImported,
      },
      ctx,
      options,
    );
  }

  /** The one write path of every import: by name, under the nodes lock, audited, all or nothing. */
  private async importHosts(
    inv: ImportedInventory,
    ctx: AuditContext,
    options: { credential?: string },
  ): Promise<NodeImportReport> {
    const { kind, format, hosts, clusters, ignoredVars, vaultVars } = inv;
    // Rundeck nodes are stored as API nodes (the node store knows no `rundeck` source).
    const source = kind === 'ansible' ? 'ansible' : 'api';
    const report: NodeImportReport = {
      format,
      created: [],
      updated: [],
      unchanged: [],
      skipped: [],
      clusters: { created: [], updated: [], unchanged: [], skipped: [] },
      ignoredVars,
      vaultVars,
      ...(inv.notImported ? { notImported: inv.notImported } : {}),
    };
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [NODES_LOCK]);
      const credentialId = await credentialIdByName(m, options.credential);
      const existing = await lockAllByName(
        m,
        NodeEntity,
        hosts.map((h) => h.name),
      );
      for (const h of hosts) {
        const cur = existing.get(h.name);
        if (cur?.source === 'file') {
          report.skipped.push({ name: h.name, reason: `managed by ${cur.sourcePath}` });
          continue;
        }
        if (cur?.source === 'builtin') {
          report.skipped.push({ name: h.name, reason: 'the built-in local node' });
          continue;
        }
        const fields: NodeFields = {
          hostname: h.hostname,
          port: h.port,
          username: h.username,
          tags: h.tags ?? [],
          attributes: h.attributes,
          credentialId: credentialId ?? null,
          hostKeyFingerprint: null,
          trustOnFirstUse: false,
          source,
          sourcePath: null,
          disabled: false,
          connection: h.connection,
        };
        const update: Partial<NodeFields> | undefined = cur && {
          hostname: h.hostname,
          connection: h.connection,
          port: h.port,
          username: h.username ?? undefined,
          // Imported nodes follow the inventory; API-made ones keep attributes it does not set.
          attributes:
            cur.source === 'ansible' && kind === 'ansible'
              ? h.attributes
              : { ...cur.attributes, ...h.attributes },
          tags: h.tags && [...new Set([...cur.tags, ...h.tags])],
          credentialId: cur.credentialId ? undefined : (credentialId ?? undefined),
        };
        const r = await upsertByName(m, NodeEntity, h.name, cur, fields, update);
        if (r.outcome === 'created') {
          await this.auditNode(m, ctx, 'node.create', r.row.id, h.name, {
            ...fields,
            credential: options.credential ?? null,
            via: kind,
          });
          report.created.push(h.name);
        } else if (r.outcome === 'unchanged') {
          report.unchanged.push(h.name);
        } else {
          await this.auditNode(m, ctx, 'node.update', r.row.id, r.row.name, {
            changed: r.changed,
            via: kind,
          });
          report.updated.push(h.name);
        }
      }

      const existingClusters = await lockAllByName(
        m,
        ClusterEntity,
        clusters.map((c) => c.name),
      );
      for (const c of clusters) {
        const cur = existingClusters.get(c.name);
        if (cur?.source === 'file') {
          report.clusters.skipped.push({ name: c.name, reason: `managed by ${cur.sourcePath}` });
          continue;
        }
        const fields: ClusterFields = {
          description: `Ansible group ${c.name}`,
          filter: null,
          nodeNames: c.nodes,
          source: 'ansible',
          sourcePath: null,
        };
        const r = await upsertByName(m, ClusterEntity, c.name, cur, fields, {
          nodeNames: c.nodes,
          filter: null,
        });
        if (r.outcome === 'created') {
          await this.auditCluster(m, ctx, 'cluster.create', r.row.id, c.name, { ...fields });
          report.clusters.created.push(c.name);
        } else if (r.outcome === 'unchanged') {
          report.clusters.unchanged.push(c.name);
        } else {
          await this.auditCluster(m, ctx, 'cluster.update', r.row.id, r.row.name, {
            changed: r.changed,
            via: kind,
          });
          report.clusters.updated.push(c.name);
        }
      }
      await this.audit.record(
        ctx,
        {
          action: 'node.import',
          details: {
            kind,
            format,
            created: report.created,
            updated: report.updated,
            skipped: report.skipped,
            clusters: report.clusters,
            ignoredVars,
            vaultVars,
            ...(inv.notImported ? { notImported: inv.notImported } : {}),
          },
        },
        m,
      );
    });
    return report;
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
