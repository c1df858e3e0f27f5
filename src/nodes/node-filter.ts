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

/**
 * `web-*`, `db-?1`: shell-style globs over node names; everything else is literal, and a
 * backslash before `*`, `?` or `\` makes that character literal (`\*` is a `*`), which is how templated values
 * are kept literal in a runbook's target names (see `escapeGlob`).
 */
export function globToRegExp(glob: string): RegExp {
  let body = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '\\' && '*?\\'.includes(glob[i + 1] ?? '.')) body += escapeRegExp(glob[++i]);
    else if (ch === '*') body += '.*';
    else if (ch === '?') body += '.';
    else body += escapeRegExp(ch);
  }
  return new RegExp(`^${body}$`);
}

const escapeRegExp = (ch: string) => ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** A value as a glob that matches only itself: every glob character is escaped. */
export function escapeGlob(value: string): string {
  return value.replace(/[\\*?]/g, '\\$&');
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

/**
 * A runbook's target filter with its `names` templates rendered. Globs come only from the
 * runbook's own text: every templated value (an option, an alert label) is escaped, so it
 * matches one node by its literal name (`*` selects a node named `*`, which cannot exist).
 * The other filter fields are not templates.
 */
export function renderNodeFilter(
  filter: NodeFilter | undefined,
  values: { options: Record<string, unknown> } & Record<string, unknown>,
  render: (
    template: string,
    values: { options: Record<string, unknown> } & Record<string, unknown>,
    encode: (value: string) => string,
  ) => string,
): NodeFilter | undefined {
  if (!filter) return undefined;
  const names = filter.names?.map((n) => render(n, values, escapeGlob)).filter(Boolean);
  return { ...filter, ...(names ? { names } : {}) };
}
