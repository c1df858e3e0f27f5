import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import type { z } from 'zod';
import { formatPath, type RunbookProblem } from '../runbooks/runbook.parser.js';
import { didYouMean } from '../runbooks/suggest.js';
import { INVENTORY_KEYS, inventorySchema, type Inventory } from './inventory.schema.js';

export const MAX_INVENTORY_BYTES = 1024 * 1024;

/** One problem in an inventory file, with where it is (same shape as a runbook problem). */
export type InventoryProblem = RunbookProblem;

export type InventoryParseResult =
  | { ok: true; inventory: Required<Inventory>; problems: [] }
  | { ok: false; inventory?: undefined; problems: InventoryProblem[] };

/** What the file may refer to that lives outside it. */
export interface InventoryContext {
  /** Names of the credentials in the store. */
  credentials: ReadonlySet<string>;
}

type PathKey = string | number;

/** Line and column of a YAML path: the value's node, or with `key` the map key itself. */
export class YamlLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(path: readonly PathKey[], key?: string): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    for (const p of path) {
      const next = child(node, p);
      if (next === undefined || next === null) break;
      node = next;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((i) => isPair(i) && isScalar(i.key) && i.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) return this.pos(pair.key.range[0]);
    }
    const range = (node as Node | undefined)?.range;
    return range ? this.pos(range[0]) : { line: 1, col: 1 };
  }

  private pos(offset: number) {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }
}

function child(node: unknown, key: PathKey): unknown {
  if (isMap(node)) {
    const pair = node.items.find((i) => isPair(i) && isScalar(i.key) && i.key.value === key);
    return pair?.value ?? undefined;
  }
  if (isSeq(node) && typeof key === 'number') return node.items[key];
  return undefined;
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

  if (Buffer.byteLength(text) > MAX_INVENTORY_BYTES) {
    add([], `file is larger than ${MAX_INVENTORY_BYTES / 1024} KiB`, { line: 1, col: 1 });
    return { ok: false, problems };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  for (const err of doc.errors) {
    add([], `YAML: ${err.message.split('\n')[0]}`, err.linePos?.[0] ?? lines.linePos(err.pos[0]));
  }
  if (problems.length) return { ok: false, problems };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    add([], `YAML: ${(e as Error).message}`, { line: 1, col: 1 });
    return { ok: false, problems };
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    add([], 'an inventory is a YAML mapping with `nodes` and `clusters` lists', {
      line: 1,
      col: 1,
    });
    return { ok: false, problems };
  }
  const locate = new YamlLocator(doc, lines);
  const parsed = inventorySchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) schemaProblem(issue, data, locate, add);
    return { ok: false, problems: sortProblems(problems) };
  }
  const inventory = { nodes: parsed.data.nodes ?? [], clusters: parsed.data.clusters ?? [] };
  checkMeaning(inventory, context, (path, message) => add(path, message, locate.at(path)));
  if (problems.length) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, inventory, problems: [] };
}

function sortProblems(p: InventoryProblem[]): InventoryProblem[] {
  return p.sort((a, b) => a.line - b.line || a.col - b.col);
}

function getIn(data: unknown, path: readonly PathKey[]): unknown {
  let cur = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathKey, unknown>)[p];
  }
  return cur;
}

function knownKeysAt(path: readonly PathKey[]): readonly string[] {
  if (path.length === 0) return INVENTORY_KEYS.root;
  if (path.length === 2 && path[0] === 'nodes') return INVENTORY_KEYS.node;
  if (path.length === 2 && path[0] === 'clusters') return INVENTORY_KEYS.cluster;
  if (path[path.length - 1] === 'filter') return INVENTORY_KEYS.filter;
  return [];
}

function schemaProblem(
  issue: z.core.$ZodIssue,
  data: unknown,
  locate: YamlLocator,
  add: (path: readonly PathKey[], message: string, where: { line: number; col: number }) => void,
) {
  const path = issue.path as PathKey[];
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) {
      const known = knownKeysAt(path);
      const hint =
        key === 'cluster' && path[path.length - 1] === 'filter'
          ? ' (a cluster filter cannot name another cluster)'
          : didYouMean(key, known);
      add([...path, key], `unknown key "${key}"${hint}`, locate.at(path, key));
    }
    return;
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && getIn(data, path) === undefined) message = 'is required';
  add(path, message, locate.at(path));
}

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
