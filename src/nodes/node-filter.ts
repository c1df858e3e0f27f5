import type { NodeFilter } from './node-filter.schema.js';

/** A node as filters and templates see it. The node inventory (execution engine) fills these. */
export interface TargetNode {
  name: string;
  hostname: string;
  port: number;
  user: string;
  tags: string[];
  attributes: Record<string, string>;
  clusters?: string[];
}

/** `web-*`, `db-?1`: shell-style globs over node names; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const anyGlob = (globs: string[] | undefined, name: string) =>
  (globs ?? []).some((g) => globToRegExp(g).test(name));

/** Whether a node satisfies every criterion of a filter (names/globs, tags all/any, attributes, cluster, exclusions). */
export function nodeMatches(filter: NodeFilter, node: TargetNode): boolean {
  if (filter.names && !anyGlob(filter.names, node.name)) return false;
  if (filter.tags && !filter.tags.every((t) => node.tags.includes(t))) return false;
  if (filter.tagsAny && !filter.tagsAny.some((t) => node.tags.includes(t))) return false;
  for (const [k, v] of Object.entries(filter.attributes ?? {}))
    if (node.attributes[k] !== v) return false;
  if (filter.cluster && !(node.clusters ?? []).includes(filter.cluster)) return false;
  if (anyGlob(filter.exclude, node.name)) return false;
  return true;
}

export function selectNodes(
  filter: NodeFilter | undefined,
  nodes: readonly TargetNode[],
): TargetNode[] {
  return filter ? nodes.filter((n) => nodeMatches(filter, n)) : [...nodes];
}

/** A runbook's target filter with its `names` templates rendered from the option values. */
export function renderNodeFilter(
  filter: NodeFilter | undefined,
  options: Record<string, unknown>,
  render: (template: string, values: { options: Record<string, unknown> }) => string,
): NodeFilter | undefined {
  if (!filter) return undefined;
  const names = filter.names?.map((n) => render(n, { options })).filter(Boolean);
  return { ...filter, ...(names ? { names } : {}) };
}
