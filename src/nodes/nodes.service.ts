import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DataSource,
  In,
  QueryFailedError,
  type EntityManager,
  type EntityTarget,
  type FindOptionsWhere,
} from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import { canonicalJson } from '../common/canonical-json.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { globToRegExp, nodeMatches, type TargetNode } from './node-filter.js';
import type { NodeFilter } from './node-filter.schema.js';
import { didYouMean } from '../common/suggest.js';
import { readAnsibleInventory } from './ansible-inventory.parser.js';
import { ClusterEntity } from './cluster.entity.js';
import {
  CredentialDecryptError,
  decryptSecret,
  encryptSecret,
  type CredentialSecret,
} from './credential-crypto.js';
import { CredentialEntity, type CredentialType } from './credential.entity.js';
import { parseInventory, type InventoryProblem } from './inventory.parser.js';
import type { SshTarget } from './node-connection.js';
import { NodeEntity } from './node.entity.js';
import type { NodeListQuery } from './node-query.js';
import { FINGERPRINT_RE, inspectPrivateKey } from './ssh-keys.js';

/**
 * A node as the execution engine sees it: the filter/template view (`TargetNode`, with the
 * clusters it belongs to) plus what is needed to connect.
 */
export type ResolvedNode = TargetNode & {
  id: string;
  credentialId: string | null;
  hostKeyFingerprint: string | null;
  trustOnFirstUse: boolean;
};

/** A node with its credential's name and user and its clusters, for the API. */
export interface NodeView {
  node: NodeEntity;
  credential: { id: string; name: string; username: string | null } | null;
  clusters: string[];
  /** The login user: the node's, else the credential's, else root. */
  user: string;
}

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

export interface ClusterInput {
  name: string;
  description?: string;
  nodes?: string[];
  filter?: Omit<NodeFilter, 'cluster'>;
}

export interface CredentialInput {
  name: string;
  type: CredentialType;
  username?: string | null;
  privateKey?: string;
  passphrase?: string;
  password?: string;
}

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

export interface AnsibleImportReport {
  format: 'ini' | 'yaml';
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
}

const INVENTORY_FILES = ['inventory.yaml', 'inventory.yml'];
const NODES_LOCK = 0x46424e44; // 'FBND': inventory sync and imports take turns
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_USER = 'root';

/** The fields of a node compared, stored and audited (never a secret among them). */
type NodeFields = Pick<
  NodeEntity,
  | 'hostname'
  | 'port'
  | 'username'
  | 'tags'
  | 'attributes'
  | 'credentialId'
  | 'hostKeyFingerprint'
  | 'trustOnFirstUse'
  | 'source'
  | 'sourcePath'
  | 'disabled'
>;
type ClusterFields = Pick<
  ClusterEntity,
  'description' | 'filter' | 'nodeNames' | 'source' | 'sourcePath'
>;

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** `{ field: { from, to } }` for the fields that differ. */
function changes<T extends object>(before: T, after: Partial<T>): Record<string, unknown> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const [k, to] of Object.entries(after)) {
    const from = (before as Record<string, unknown>)[k];
    if (to !== undefined && !same(from, to)) out[k] = { from: from ?? null, to };
  }
  return out;
}

function managedByFile(kind: 'node' | 'cluster', name: string, path: string | null) {
  return new DomainException(
    'CONFLICT',
    `${kind} "${name}" comes from ${path ?? 'the inventory file'}: edit the file and sync`,
    { [kind]: name, sourcePath: path },
  );
}

const isForeignKeyViolation = (e: unknown) =>
  e instanceof QueryFailedError && (e.driverError as { code?: string }).code === '23503';

function clusterContains(c: ClusterEntity, node: TargetNode): boolean {
  if (c.nodeNames) return c.nodeNames.some((g) => globToRegExp(g).test(node.name));
  return c.filter ? nodeMatches(c.filter, node) : false;
}

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
 * Node inventory, clusters and the credential store. Nodes come from `inventory.yaml` beside
 * the runbooks (synced at start and on demand), from the API, or from an Ansible import; the
 * execution engine resolves targets and connection details here. Every change is audited in
 * the same transaction; secrets are decrypted only in `connectionTarget`.
 */
@Injectable()
export class NodesService implements OnApplicationBootstrap {
  private readonly logger = new Logger(NodesService.name);
  private readonly key: Buffer;
  private lastSync: InventorySyncReport | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {
    this.key = deriveKey(config.secretKey, 'credentials');
  }

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

  private get nodes() {
    return this.dataSource.getRepository(NodeEntity);
  }

  private get clusters() {
    return this.dataSource.getRepository(ClusterEntity);
  }

  private get credentials() {
    return this.dataSource.getRepository(CredentialEntity);
  }

  // ---------------------------------------------------------------- resolution (the engine)

  /**
   * Enabled nodes matching the filter (names/globs, tags all/any, attributes, cluster,
   * exclusions), sorted by name. With `explicitNames` (names or globs), only those nodes too;
   * names that are unknown or disabled are simply absent, for the caller to report.
   * A filter naming a cluster that does not exist is an error, not an empty answer.
   */
  async resolve(filter: NodeFilter | undefined, explicitNames?: string[]): Promise<ResolvedNode[]> {
    return (await this.select(filter, explicitNames, false)).map(toResolvedNode);
  }

  private async select(
    filter: NodeFilter | undefined,
    explicitNames: string[] | undefined,
    includeDisabled: boolean,
  ): Promise<NodeView[]> {
    const { views, clusters } = await this.loadViews(includeDisabled);
    if (filter?.cluster && !clusters.some((c) => c.name === filter.cluster))
      throw unknownCluster(filter.cluster, clusters);
    const explicit = explicitNames?.map((n) => globToRegExp(n));
    return views.filter((v) => {
      const n = toResolvedNode(v);
      return (
        (!explicit || explicit.some((re) => re.test(n.name))) && (!filter || nodeMatches(filter, n))
      );
    });
  }

  /** Host, port, user, decrypted secret and host key policy for one node. */
  async connectionTarget(nodeId: string): Promise<SshTarget> {
    const node = await this.nodes.findOneBy({ id: nodeId });
    if (!node) throw notFound('Node', nodeId);
    if (node.disabled) {
      throw new DomainException('CONFLICT', `node "${node.name}" is disabled`, {
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
    const credential = await this.credentials.findOneByOrFail({ id: node.credentialId });
    const secret = await this.decrypt(credential, node.name);
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

  private async decrypt(c: CredentialEntity, node: string): Promise<CredentialSecret> {
    try {
      return decryptSecret(this.key, c.id, c);
    } catch (e) {
      if (!(e instanceof CredentialDecryptError)) throw e;
      this.logger.error(`credential "${c.name}": ${e.message}`);
      await this.audit
        .record(SYSTEM_ACTOR, {
          action: 'credential.decrypt',
          outcome: 'failure',
          subjectType: 'Credential',
          subjectId: c.id,
          details: { name: c.name, node, reason: 'ciphertext does not authenticate' },
        })
        .catch(() => undefined);
      throw new DomainException(
        'INTERNAL',
        `credential "${c.name}" could not be decrypted: its stored ciphertext was altered or moved, or SECRET_KEY changed since it was stored; rotate the credential`,
        { credential: c.name },
      );
    }
  }

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
    const node = await this.nodes.findOneBy({ id: nodeId });
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

  // ---------------------------------------------------------------- nodes

  private async loadViews(includeDisabled: boolean, m: EntityManager = this.dataSource.manager) {
    const [nodes, clusters, credentials] = await Promise.all([
      m.find(NodeEntity, {
        where: includeDisabled ? {} : { disabled: false },
        order: { name: 'ASC' },
      }),
      m.find(ClusterEntity, { order: { name: 'ASC' } }),
      m.find(CredentialEntity, { select: { id: true, name: true, username: true } }),
    ]);
    const creds = new Map(credentials.map((c) => [c.id, c]));
    const views = nodes.map((node): NodeView => {
      const c = node.credentialId ? creds.get(node.credentialId) : undefined;
      const user = node.username ?? c?.username ?? DEFAULT_USER;
      const target = targetOf(node, user, []);
      return {
        node,
        credential: c ? { id: c.id, name: c.name, username: c.username } : null,
        clusters: clusters.filter((cl) => clusterContains(cl, target)).map((cl) => cl.name),
        user,
      };
    });
    return { views, clusters };
  }

  /** Nodes matching a list query (disabled ones only when asked), sorted by name. */
  list(q: NodeListQuery): Promise<NodeView[]> {
    return this.select(q.filter, undefined, q.includeDisabled);
  }

  /** A node by id or name. */
  async get(ref: string): Promise<NodeView> {
    const node = await this.nodes.findOneBy(UUID_RE.test(ref) ? { id: ref } : { name: ref });
    if (!node) throw notFound('Node', ref);
    const { views } = await this.loadViews(true);
    return views.find((v) => v.node.id === node.id)!;
  }

  private async credentialIdByName(
    m: EntityManager,
    name: string | null | undefined,
    path = 'credential',
  ): Promise<string | null | undefined> {
    if (name === undefined || name === null) return name;
    const c = await m.findOne(CredentialEntity, { where: { name }, select: { id: true } });
    if (!c) {
      const names = (await m.find(CredentialEntity, { select: { name: true } })).map((x) => x.name);
      throw validationFailed([
        { path, message: `no credential named "${name}"${didYouMean(name, names)}` },
      ]);
    }
    return c.id;
  }

  async createNode(input: NodeInput, ctx: AuditContext): Promise<NodeView> {
    const id = await this.dataSource.transaction(async (m) => {
      const credentialId = (await this.credentialIdByName(m, input.credential)) ?? null;
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
      };
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(NodeEntity)
        .values({ name: input.name, ...fields })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length === 0) {
        throw new DomainException('CONFLICT', `node "${input.name}" already exists`, {
          name: input.name,
        });
      }
      const nodeId = (inserted.raw as Array<{ id: string }>)[0].id;
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
      const credentialId = await this.credentialIdByName(m, input.credential);
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
      Object.assign(
        node,
        Object.fromEntries(Object.entries(after).filter(([, v]) => v !== undefined)),
      );
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
      await m.delete(NodeEntity, { id: node.id });
      await this.auditNode(m, ctx, 'node.delete', node.id, node.name, {
        hostname: node.hostname,
        source: node.source,
      });
    });
  }

  /** Unpins a node's host key (after a rebuild); with trust on first use the next key is pinned. */
  async forgetHostKey(ref: string, ctx: AuditContext): Promise<NodeView> {
    const id = await this.dataSource.transaction(async (m) => {
      const node = await this.lockNode(m, ref);
      if (node.hostKeyFingerprint) {
        const before = node.hostKeyFingerprint;
        node.hostKeyFingerprint = null;
        await m.save(node);
        await this.auditNode(m, ctx, 'node.hostkey.forget', node.id, node.name, {
          fingerprint: before,
        });
      }
      return node.id;
    });
    return this.get(id);
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
    return this.auditNamed(m, ctx, 'Node', action, id, name, details);
  }

  /** An audit entry about a named inventory object, in the caller's transaction. */
  private auditNamed(
    m: EntityManager,
    ctx: AuditContext,
    subjectType: 'Node' | 'Cluster',
    action: string,
    id: string,
    name: string,
    details: Record<string, unknown>,
  ) {
    return this.audit.record(
      ctx,
      { action, subjectType, subjectId: id, details: { name, ...details } },
      m,
    );
  }

  // ---------------------------------------------------------------- clusters

  /** Clusters with their current enabled members. */
  async listClusters(): Promise<Array<{ cluster: ClusterEntity; members: string[] }>> {
    const { views, clusters } = await this.loadViews(false);
    return clusters.map((cluster) => ({
      cluster,
      members: views.filter((v) => v.clusters.includes(cluster.name)).map((v) => v.node.name),
    }));
  }

  async getCluster(ref: string): Promise<{ cluster: ClusterEntity; members: string[] }> {
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

  async createCluster(input: ClusterInput, ctx: AuditContext) {
    const membership = this.clusterMembership(input);
    const id = await this.dataSource.transaction(async (m) => {
      const fields: ClusterFields = {
        description: input.description ?? '',
        ...membership,
        source: 'api',
        sourcePath: null,
      };
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(ClusterEntity)
        .values({ name: input.name, ...fields })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length === 0) {
        throw new DomainException('CONFLICT', `cluster "${input.name}" already exists`, {
          name: input.name,
        });
      }
      const clusterId = (inserted.raw as Array<{ id: string }>)[0].id;
      await this.auditCluster(m, ctx, 'cluster.create', clusterId, input.name, { ...fields });
      return clusterId;
    });
    return this.getCluster(id);
  }

  async updateCluster(ref: string, input: Omit<ClusterInput, 'name'>, ctx: AuditContext) {
    if (input.nodes && input.filter) this.clusterMembership(input);
    const id = await this.dataSource.transaction(async (m) => {
      const cluster = await this.lockCluster(m, ref);
      if (cluster.source === 'file')
        throw managedByFile('cluster', cluster.name, cluster.sourcePath);
      const after: Partial<ClusterFields> = { description: input.description };
      if (input.nodes || input.filter) Object.assign(after, this.clusterMembership(input));
      const changed = changes(cluster, after);
      if (Object.keys(changed).length) {
        Object.assign(
          cluster,
          Object.fromEntries(Object.entries(after).filter(([, v]) => v !== undefined)),
        );
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
    return this.auditNamed(m, ctx, 'Cluster', action, id, name, details);
  }

  // ---------------------------------------------------------------- credentials

  listCredentials(): Promise<CredentialEntity[]> {
    return this.credentials.find({ order: { name: 'ASC' } });
  }

  async getCredential(ref: string): Promise<CredentialEntity> {
    const c = await this.credentials.findOneBy(UUID_RE.test(ref) ? { id: ref } : { name: ref });
    if (!c) throw notFound('Credential', ref);
    return c;
  }

  /** Checks a secret against its type; returns it with the public key fingerprint, if any. */
  private checkSecret(
    type: CredentialType,
    input: Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>,
  ): { secret: CredentialSecret; fingerprint: string | null } {
    if (type === 'password') {
      const problems = [
        ...(input.password ? [] : [{ path: 'password', message: 'is required for type password' }]),
        ...(input.privateKey !== undefined
          ? [{ path: 'privateKey', message: 'applies to type ssh-key only' }]
          : []),
        ...(input.passphrase !== undefined
          ? [{ path: 'passphrase', message: 'applies to type ssh-key only' }]
          : []),
      ];
      if (problems.length) throw validationFailed(problems);
      return { secret: { type, password: input.password! }, fingerprint: null };
    }
    if (input.password !== undefined)
      throw validationFailed([{ path: 'password', message: 'applies to type password only' }]);
    if (!input.privateKey)
      throw validationFailed([{ path: 'privateKey', message: 'is required for type ssh-key' }]);
    const inspected = inspectPrivateKey(input.privateKey, input.passphrase);
    if (!inspected.ok) {
      const path = /passphrase/.test(inspected.message) ? 'passphrase' : 'privateKey';
      throw validationFailed([{ path, message: inspected.message }]);
    }
    return {
      secret: {
        type,
        privateKey: input.privateKey,
        ...(input.passphrase ? { passphrase: input.passphrase } : {}),
      },
      fingerprint: inspected.info.fingerprint,
    };
  }

  async createCredential(input: CredentialInput, ctx: AuditContext): Promise<CredentialEntity> {
    const { secret, fingerprint } = this.checkSecret(input.type, input);
    const id = randomUUID();
    const encrypted = encryptSecret(this.key, id, secret);
    return this.dataSource.transaction(async (m) => {
      const inserted = await m
        .createQueryBuilder()
        .insert()
        .into(CredentialEntity)
        .values({
          id,
          name: input.name,
          type: input.type,
          username: input.username ?? null,
          ...encrypted,
          publicFingerprint: fingerprint,
          rotatedAt: null,
        })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length === 0) {
        throw new DomainException('CONFLICT', `credential "${input.name}" already exists`, {
          name: input.name,
        });
      }
      const c = await m.findOneByOrFail(CredentialEntity, { id });
      await this.auditCredential(m, ctx, 'credential.create', c, secretValues(input), {
        type: c.type,
        username: c.username,
        publicFingerprint: c.publicFingerprint,
      });
      return c;
    });
  }

  async updateCredential(
    ref: string,
    input: { username?: string | null },
    ctx: AuditContext,
  ): Promise<CredentialEntity> {
    return this.dataSource.transaction(async (m) => {
      const c = await this.lockCredential(m, ref);
      const changed = changes(c, { username: input.username });
      if (Object.keys(changed).length) {
        c.username = input.username ?? null;
        await m.save(c);
        await this.auditCredential(m, ctx, 'credential.update', c, [], { changed });
      }
      return c;
    });
  }

  /** Replaces the secret (same type); the old one is gone. */
  async rotateCredential(
    ref: string,
    input: Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>,
    ctx: AuditContext,
  ): Promise<CredentialEntity> {
    return this.dataSource.transaction(async (m) => {
      const c = await this.lockCredential(m, ref);
      const { secret, fingerprint } = this.checkSecret(c.type, input);
      const before = c.publicFingerprint;
      Object.assign(c, encryptSecret(this.key, c.id, secret), {
        publicFingerprint: fingerprint,
        rotatedAt: new Date(),
      });
      await m.save(c);
      await this.auditCredential(m, ctx, 'credential.rotate', c, secretValues(input), {
        type: c.type,
        publicFingerprint: { from: before, to: fingerprint },
      });
      return c;
    });
  }

  /** Refused (409, naming them) while nodes use it. */
  async deleteCredential(ref: string, ctx: AuditContext): Promise<void> {
    try {
      await this.dataSource.transaction(async (m) => {
        const c = await this.lockCredential(m, ref);
        const users = await m.find(NodeEntity, {
          where: { credentialId: c.id },
          select: { name: true },
          order: { name: 'ASC' },
        });
        if (users.length)
          throw credentialInUse(
            c.name,
            users.map((n) => n.name),
          );
        await m.delete(CredentialEntity, { id: c.id });
        await this.auditCredential(m, ctx, 'credential.delete', c, [], { type: c.type });
      });
    } catch (e) {
      // A node took the credential between the check and the delete.
      if (isForeignKeyViolation(e)) throw credentialInUse(ref, []);
      throw e;
    }
  }

  private lockCredential(m: EntityManager, ref: string): Promise<CredentialEntity> {
    return lockByRef(m, CredentialEntity, 'Credential', ref);
  }

  private auditCredential(
    m: EntityManager,
    ctx: AuditContext,
    action: string,
    c: CredentialEntity,
    secrets: string[],
    details: Record<string, unknown>,
  ) {
    return this.audit.record(
      ctx,
      {
        action,
        subjectType: 'Credential',
        subjectId: c.id,
        details: { name: c.name, ...details },
        secretValues: secrets,
      },
      m,
    );
  }

  // ---------------------------------------------------------------- inventory file

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
    const credentials = await this.credentials.find({ select: { id: true, name: true } });
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
      const existing = new Map(
        (await m.find(NodeEntity, { lock: { mode: 'pessimistic_write' } })).map((n) => [n.name, n]),
      );
      for (const n of nodes) {
        const cur = existing.get(n.name);
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
        };
        if (!cur) {
          const saved = await m.save(m.create(NodeEntity, { name: n.name, ...fields }));
          await this.auditNode(m, ctx, 'node.create', saved.id, n.name, {
            ...fields,
            credential: n.credential ?? null,
          });
          report.nodes.created.push(n.name);
          continue;
        }
        const changed = changes(cur, fields);
        if (Object.keys(changed).length === 0) {
          report.nodes.unchanged.push(n.name);
          continue;
        }
        const wasDisabled = cur.disabled;
        Object.assign(cur, fields);
        await m.save(cur);
        await this.auditNode(
          m,
          ctx,
          cur.disabled && !wasDisabled ? 'node.disable' : 'node.update',
          cur.id,
          cur.name,
          { changed },
        );
        (cur.disabled && !wasDisabled ? report.nodes.disabled : report.nodes.updated).push(n.name);
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

      const existingClusters = new Map(
        (await m.find(ClusterEntity, { lock: { mode: 'pessimistic_write' } })).map((c) => [
          c.name,
          c,
        ]),
      );
      for (const c of clusters) {
        const cur = existingClusters.get(c.name);
        const fields: ClusterFields = {
          description: c.description ?? '',
          filter: c.filter ? stripUndefined(c.filter) : null,
          nodeNames: c.nodes ?? null,
          source: 'file',
          sourcePath: found.path,
        };
        if (!cur) {
          const saved = await m.save(m.create(ClusterEntity, { name: c.name, ...fields }));
          await this.auditCluster(m, ctx, 'cluster.create', saved.id, c.name, { ...fields });
          report.clusters.created.push(c.name);
          continue;
        }
        const changed = changes(cur, fields);
        if (Object.keys(changed).length === 0) {
          report.clusters.unchanged.push(c.name);
          continue;
        }
        Object.assign(cur, fields);
        await m.save(cur);
        await this.auditCluster(m, ctx, 'cluster.update', cur.id, cur.name, { changed });
        report.clusters.updated.push(c.name);
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

  // ---------------------------------------------------------------- Ansible import

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
  ): Promise<AnsibleImportReport> {
    const read = readAnsibleInventory(text, format);
    if (!read.ok) throw inventoryInvalid(read.problems);
    const { hosts, clusters, ignoredVars } = read.result;
    const report: AnsibleImportReport = {
      format,
      created: [],
      updated: [],
      unchanged: [],
      skipped: [],
      clusters: { created: [], updated: [], unchanged: [], skipped: [] },
      ignoredVars,
    };
    await this.dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [NODES_LOCK]);
      const credentialId = await this.credentialIdByName(m, options.credential);
      const existing = new Map(
        (
          await m.find(NodeEntity, {
            where: { name: In(hosts.map((h) => h.name)) },
            lock: { mode: 'pessimistic_write' },
          })
        ).map((n) => [n.name, n]),
      );
      for (const h of hosts) {
        const cur = existing.get(h.name);
        if (cur?.source === 'file') {
          report.skipped.push({ name: h.name, reason: `managed by ${cur.sourcePath}` });
          continue;
        }
        if (!cur) {
          const fields: NodeFields = {
            hostname: h.hostname,
            port: h.port,
            username: h.username,
            tags: [],
            attributes: h.attributes,
            credentialId: credentialId ?? null,
            hostKeyFingerprint: null,
            trustOnFirstUse: false,
            source: 'ansible',
            sourcePath: null,
            disabled: false,
          };
          const saved = await m.save(m.create(NodeEntity, { name: h.name, ...fields }));
          await this.auditNode(m, ctx, 'node.create', saved.id, h.name, {
            ...fields,
            credential: options.credential ?? null,
          });
          report.created.push(h.name);
          continue;
        }
        const after: Partial<NodeFields> = {
          hostname: h.hostname,
          port: h.port,
          username: h.username ?? undefined,
          // Imported nodes follow the inventory; API-made ones keep attributes it does not set.
          attributes:
            cur.source === 'ansible' ? h.attributes : { ...cur.attributes, ...h.attributes },
          credentialId: cur.credentialId ? undefined : (credentialId ?? undefined),
        };
        const changed = changes(cur, after);
        if (Object.keys(changed).length === 0) {
          report.unchanged.push(h.name);
          continue;
        }
        Object.assign(
          cur,
          Object.fromEntries(Object.entries(after).filter(([, v]) => v !== undefined)),
        );
        await m.save(cur);
        await this.auditNode(m, ctx, 'node.update', cur.id, cur.name, { changed, via: 'ansible' });
        report.updated.push(h.name);
      }

      const existingClusters = new Map(
        (
          await m.find(ClusterEntity, {
            where: { name: In(clusters.map((c) => c.name)) },
            lock: { mode: 'pessimistic_write' },
          })
        ).map((c) => [c.name, c]),
      );
      for (const c of clusters) {
        const cur = existingClusters.get(c.name);
        if (cur?.source === 'file') {
          report.clusters.skipped.push({ name: c.name, reason: `managed by ${cur.sourcePath}` });
          continue;
        }
        if (!cur) {
          const fields: ClusterFields = {
            description: `Ansible group ${c.name}`,
            filter: null,
            nodeNames: c.nodes,
            source: 'ansible',
            sourcePath: null,
          };
          const saved = await m.save(m.create(ClusterEntity, { name: c.name, ...fields }));
          await this.auditCluster(m, ctx, 'cluster.create', saved.id, c.name, { ...fields });
          report.clusters.created.push(c.name);
          continue;
        }
        const changed = changes(cur, { nodeNames: c.nodes, filter: null });
        if (Object.keys(changed).length === 0) {
          report.clusters.unchanged.push(c.name);
          continue;
        }
        Object.assign(cur, { nodeNames: c.nodes, filter: null });
        await m.save(cur);
        await this.auditCluster(m, ctx, 'cluster.update', cur.id, cur.name, {
          changed,
          via: 'ansible',
        });
        report.clusters.updated.push(c.name);
      }
      await this.audit.record(
        ctx,
        {
          action: 'node.import',
          details: {
            format,
            created: report.created,
            updated: report.updated,
            skipped: report.skipped,
            clusters: report.clusters,
            ignoredVars,
          },
        },
        m,
      );
    });
    return report;
  }
}

/** The filter/template view of a node, with what the engine needs to connect. */
export function toResolvedNode(v: NodeView): ResolvedNode {
  return {
    ...targetOf(v.node, v.user, v.clusters),
    id: v.node.id,
    credentialId: v.node.credentialId,
    hostKeyFingerprint: v.node.hostKeyFingerprint,
    trustOnFirstUse: v.node.trustOnFirstUse,
  };
}

function targetOf(node: NodeEntity, user: string, clusters: string[]): TargetNode {
  return {
    name: node.name,
    hostname: node.hostname,
    port: node.port,
    user,
    tags: node.tags,
    attributes: node.attributes,
    clusters,
  };
}

function unknownCluster(name: string, clusters: ClusterEntity[]) {
  return validationFailed([
    {
      path: 'cluster',
      message: `no cluster named "${name}"${didYouMean(
        name,
        clusters.map((c) => c.name),
      )}`,
    },
  ]);
}

function credentialInUse(name: string, nodes: string[]) {
  const shown = nodes.slice(0, 10).join(', ') + (nodes.length > 10 ? ', …' : '');
  return new DomainException(
    'CONFLICT',
    nodes.length
      ? `credential "${name}" is used by ${nodes.length} node(s): ${shown}; give them another credential first`
      : `credential "${name}" is in use by a node; give it another credential first`,
    { credential: name, nodes },
  );
}

function secretValues(
  input: Partial<Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>>,
) {
  return [input.privateKey, input.passphrase, input.password].filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Reads and row-locks a node, cluster or credential by id or name, or 404s naming it. */
async function lockByRef<T extends { id: string; name: string }>(
  m: EntityManager,
  entity: EntityTarget<T>,
  what: string,
  ref: string,
): Promise<T> {
  const where = (UUID_RE.test(ref) ? { id: ref } : { name: ref }) as FindOptionsWhere<T>;
  const row = await m.findOne(entity, { where, lock: { mode: 'pessimistic_write' } });
  if (!row) throw notFound(what, ref);
  return row;
}
