import {
  formatPath,
  loadYamlSource,
  schemaProblem,
  sortProblems,
  type PathKey,
  type SchemaWording,
  type SourceProblem,
} from '../common/yaml-source.js';
import { didYouMean } from '../common/suggest.js';
import { INVENTORY_KEYS, inventorySchema, type Inventory } from './inventory.schema.js';

export const MAX_INVENTORY_BYTES = 1024 * 1024;

/** One problem in an inventory file, with where it is (same shape as a runbook problem). */
export type InventoryProblem = SourceProblem;

export type InventoryParseResult =
  | { ok: true; inventory: Required<Inventory>; problems: [] }
  | { ok: false; inventory?: undefined; problems: InventoryProblem[] };

/** What the file may refer to that lives outside it. */
export interface InventoryContext {
  /** Names of the credentials in the store. */
  credentials: ReadonlySet<string>;
}

/**
 * Parses and checks `inventory.yaml`: YAML syntax, the format (unknown keys with a suggestion),
 * then the meaning (duplicate names, unknown credentials, clusters with both or neither of
 * `nodes` and `filter`). Every problem carries the file, the YAML path and line:column.
 */
export function parseInventory(
  file: string,
  text: string,
  context: InventoryContext,
): InventoryParseResult {
  const problems: InventoryProblem[] = [];
  const add = (path: readonly PathKey[], message: string, where: { line: number; col: number }) =>
    problems.push({ file, path: formatPath(path), line: where.line, col: where.col, message });

  const loaded = loadYamlSource(file, text, MAX_INVENTORY_BYTES);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const { locate } = loaded;
  let data = loaded.data;
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    add([], 'an inventory is a YAML mapping with `nodes` and `clusters` lists', {
      line: 1,
      col: 1,
    });
    return { ok: false, problems };
  }
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      schemaProblem(issue, data, locate, add, INVENTORY_WORDING);
    return { ok: false, problems: sortProblems(problems) };
  }
  const inventory = { nodes: parsed.data.nodes ?? [], clusters: parsed.data.clusters ?? [] };
  checkMeaning(inventory, context, (path, message) => add(path, message, locate.at(path)));
  if (problems.length) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, inventory, problems: [] };
}

function knownKeysAt(path: readonly PathKey[]): readonly string[] {
  if (path.length === 0) return INVENTORY_KEYS.root;
  if (path.length === 2 && path[0] === 'nodes') return INVENTORY_KEYS.node;
  if (path.length === 2 && path[0] === 'clusters') return INVENTORY_KEYS.cluster;
  if (path[path.length - 1] === 'filter') return INVENTORY_KEYS.filter;
  return [];
}

const INVENTORY_WORDING: SchemaWording = {
  knownKeysAt,
  unknownKey(path, key, known) {
    const hint =
      key === 'cluster' && path[path.length - 1] === 'filter'
        ? ' (a cluster filter cannot name another cluster)'
        : didYouMean(key, known);
    return `unknown key "${key}"${hint}`;
  },
};

function checkMeaning(
  inv: Required<Inventory>,
  context: InventoryContext,
  add: (path: PathKey[], message: string) => void,
) {
  const nodeNames = new Map<string, number>();
  const credentials = [...context.credentials];
  inv.nodes.forEach((n, i) => {
    const first = nodeNames.get(n.name);
    if (first !== undefined)
      add(['nodes', i, 'name'], `duplicate node name "${n.name}" (also nodes[${first}])`);
    else nodeNames.set(n.name, i);
    if (n.credential && !context.credentials.has(n.credential)) {
      add(
        ['nodes', i, 'credential'],
        `no credential named "${n.credential}"${didYouMean(n.credential, credentials)}: create it with POST /credentials (secrets are never in the file)`,
      );
    }
  });
  const clusterNames = new Map<string, number>();
  inv.clusters.forEach((c, i) => {
    const first = clusterNames.get(c.name);
    if (first !== undefined)
      add(['clusters', i, 'name'], `duplicate cluster name "${c.name}" (also clusters[${first}])`);
    else clusterNames.set(c.name, i);
    if (Boolean(c.nodes) === Boolean(c.filter)) {
      add(
        ['clusters', i],
        c.nodes
          ? 'a cluster has either `nodes` or `filter`, not both'
          : 'a cluster needs `nodes` (names or globs) or `filter`',
      );
    }
  });
}
