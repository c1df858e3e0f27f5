import { posix } from 'node:path';
import { loadYamlSource, type PathKey, type YamlLocator } from '../../common/yaml-source.js';
import type { ImportInput } from '../kinds.js';
import type { Finding, FindingLevel } from '../report.js';

/** What the StackStorm converter's parts share: the action file and its findings, with lines. */

export const MAX_BYTES = 1024 * 1024;

export type Json = Record<string, unknown>;

export interface Source {
  file: string;
  data: unknown;
  locate: YamlLocator;
}

export class Report {
  readonly findings: Finding[] = [];
  constructor(
    private readonly src: Source,
    private readonly subject: string,
  ) {}
  add(level: FindingLevel, path: PathKey[], message: string, key?: string, subject?: string) {
    const at = this.src.locate.at(path, key);
    const full = key === undefined ? path : [...path, key];
    this.findings.push({
      level,
      source: { file: this.src.file, line: at.line, path: pathText(full) },
      subject: subject ?? this.subject,
      message,
    });
  }
}

export function pathText(path: readonly PathKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** `an integer`, `a string`. */
export const an = (word: string) => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
/** A scalar's text; anything else as JSON. */
export const text = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : JSON.stringify(v);
export const isMap = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
export const norm = (p: string) => posix.normalize(p.replace(/\\/g, '/'));

/** A YAML or JSON file given to the import, or one error finding per parse problem. */
export function loadFile(
  input: ImportInput,
  subject: string,
): { ok: true; data: unknown; locate: YamlLocator } | { ok: false; findings: Finding[] } {
  const loaded = loadYamlSource(input.file, input.text, MAX_BYTES);
  if (loaded.ok) return loaded;
  return {
    ok: false,
    findings: loaded.problems.map((p) => ({
      level: 'error',
      source: { file: input.file, line: p.line },
      subject,
      message: `does not parse: ${p.message}`,
    })),
  };
}
