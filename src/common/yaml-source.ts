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
import { didYouMean } from './suggest.js';

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

/** The value at a path in plain data, or undefined. */
export function getIn(data: unknown, path: readonly PathKey[]): unknown {
  let cur = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathKey, unknown>)[p];
  }
  return cur;
}

export type AddProblem = (
  path: readonly PathKey[],
  message: string,
  where: { line: number; col: number },
) => void;

/** What a format (runbook, inventory) says about its own schema issues. */
export interface SchemaWording {
  /** Known keys at a path, for "did you mean" on an unknown key. */
  knownKeysAt(path: readonly PathKey[]): readonly string[];
  /** The message for an unknown key in `parent` (the mapping at path); by default `unknown key "k"` with a suggestion. */
  unknownKey?(
    path: readonly PathKey[],
    key: string,
    known: readonly string[],
    parent: unknown,
  ): string;
  /** The message for any other issue, given the default one and the value at the path. */
  message?(path: readonly PathKey[], value: unknown, message: string): string;
}

/**
 * Turns one schema issue into problems located in the YAML source: unknown keys at the key
 * (with a suggestion), a missing value as `is required`, anything else with zod's message.
 */
export function schemaProblem(
  issue: z.core.$ZodIssue,
  data: unknown,
  locate: YamlLocator,
  add: AddProblem,
  wording: SchemaWording,
) {
  const path = issue.path as PathKey[];
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) {
      const known = wording.knownKeysAt(path);
      const message =
        wording.unknownKey?.(path, key, known, getIn(data, path)) ??
        `unknown key "${key}"${didYouMean(key, known)}`;
      add([...path, key], message, locate.at(path, key));
    }
    return;
  }
  const value = getIn(data, path);
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && value === undefined) message = 'is required';
  add(path, wording.message?.(path, value, message) ?? message, locate.at(path));
}
