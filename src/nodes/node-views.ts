import type { EntityManager } from 'typeorm';
import { validationFailed } from '../common/errors.js';
import { didYouMean } from '../common/suggest.js';
import { ClusterEntity } from './cluster.entity.js';
import { CredentialEntity } from './credential.entity.js';
import { globToRegExp, nodeMatches, type TargetNode } from './node-filter.js';
import type { NodeFilter } from './node-filter.schema.js';
import { NodeEntity } from './node.entity.js';

/**
 * Nodes as they are read: with their credential, their login user and the clusters they belong
 * to (cluster membership is computed, never stored), and selected by a node filter.
 */

export const DEFAULT_USER = 'root';

/**
 * A node as the execution engine sees it: the filter/template view (`TargetNode`, with the
 * clusters it belongs to) plus what is needed to connect.
 */
export type ResolvedNode = TargetNode & {
  id: string;
  credentialId: string | null;
  hostKeyFingerprint: string | null;
  trustOnFirstUse: boolean;
  /** `local`: run on the Firebreak host through the local executor, not over SSH. */
  connection: 'ssh' | 'local';
};

/** A node with its credential's name and user and its clusters, for the API. */
export interface NodeView {
  node: NodeEntity;
  credential: { id: string; name: string; username: string | null } | null;
  clusters: string[];
  /** The login user: the node's, else the credential's, else root. */
  user: string;
}

function clusterContains(c: ClusterEntity, node: TargetNode): boolean {
  if (c.nodeNames) return c.nodeNames.some((g) => globToRegExp(g).test(node.name));
  return c.filter ? nodeMatches(c.filter, node) : false;
}

/** Every node (enabled ones unless asked) as a view, sorted by name, and every cluster. */
export async function loadNodeViews(m: EntityManager, includeDisabled: boolean) {
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

/**
 * The nodes matching the filter and, with `explicitNames` (names or globs), one of those,
 * sorted by name. A filter naming a cluster that does not exist is an error.
 */
export async function selectNodeViews(
  m: EntityManager,
  filter: NodeFilter | undefined,
  explicitNames: string[] | undefined,
  includeDisabled: boolean,
  /** Execution targets: the built-in node only when asked for (see chosenByName). */
  builtin?: { named: readonly string[] },
): Promise<NodeView[]> {
  const { views, clusters } = await loadNodeViews(m, includeDisabled);
  if (filter?.cluster && !clusters.some((c) => c.name === filter.cluster))
    throw unknownCluster(filter.cluster, clusters);
  const explicit = explicitNames?.map((n) => globToRegExp(n));
  return views.filter((v) => {
    const n = toResolvedNode(v);
    if (builtin && v.node.source === 'builtin' && !chosenByName(v.node, filter, builtin.named))
      return false;
    return (
      (!explicit || explicit.some((re) => re.test(n.name))) && (!filter || nodeMatches(filter, n))
    );
  });
}

/**
 * Whether the built-in node (the Firebreak host) is asked for by name or by its own tag: its
 * exact name among the given nodes or the filter's names, or a tag criterion naming one of its
 * tags. A wildcard (`*`, no filter at all, `web-*` that happens to match) never picks it: a
 * fleet-wide restart must not also run on the host that runs Firebreak.
 */
function chosenByName(
  node: NodeEntity,
  filter: NodeFilter | undefined,
  named: readonly string[],
): boolean {
  if (named.includes(node.name) || filter?.names?.includes(node.name)) return true;
  return [...(filter?.tags ?? []), ...(filter?.tagsAny ?? [])].some((t) => node.tags.includes(t));
}

/** The filter/template view of a node, with what the engine needs to connect. */
export function toResolvedNode(v: NodeView): ResolvedNode {
  return {
    ...targetOf(v.node, v.user, v.clusters),
    id: v.node.id,
    credentialId: v.node.credentialId,
    hostKeyFingerprint: v.node.hostKeyFingerprint,
    trustOnFirstUse: v.node.trustOnFirstUse,
    connection: v.node.connection,
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
