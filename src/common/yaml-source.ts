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

export type PathKey = string | number;

/** One problem in a YAML source file (a runbook, the inventory), with where it is. */
export interface SourceProblem {
  file: string;
  /** YAML path, e.g. `steps[2].run`; empty for the document. */
  path: string;
  line: number;
  col: number;
  message: string;
}

export function formatPath(path: readonly PathKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function sortProblems<T extends SourceProblem>(p: T[]): T[] {
  return p.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Line and column of a YAML path: the deepest node that exists on it, or with `key` a map key. */
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
 * Reads a YAML source with positions: size limit, syntax (duplicate keys refused), aliases
 * bounded. Returns the plain data and a locator for later problems, or the problems found.
 */
export function loadYamlSource(
  file: string,
  text: string,
  maxBytes: number,
): { ok: true; data: unknown; locate: YamlLocator } | { ok: false; problems: SourceProblem[] } {
  const problem = (message: string, where = { line: 1, col: 1 }): SourceProblem => ({
    file,
    path: '',
    ...where,
    message,
  });
  if (Buffer.byteLength(text) > maxBytes) {
    return { ok: false, problems: [problem(`file is larger than ${maxBytes / 1024} KiB`)] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  if (doc.errors.length) {
    return {
      ok: false,
      problems: doc.errors.map((err) =>
        problem(
          `YAML: ${err.message.split('\n')[0]}`,
          err.linePos?.[0] ?? lines.linePos(err.pos[0]),
        ),
      ),
    };
  }
  try {
    return {
      ok: true,
      data: doc.toJS({ maxAliasCount: 50 }) as unknown,
      locate: new YamlLocator(doc, lines),
    };
  } catch (e) {
    return { ok: false, problems: [problem(`YAML: ${(e as Error).message}`)] };
  }
}

/** Line and column of a YAML path in a file's text (for problems found after parsing). */
export function locateIn(text: string, path: readonly PathKey[]): { line: number; col: number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return new YamlLocator(doc, lines).at(path);
}
