import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readRunbookFiles } from '../runbooks/runbook-files.js';
import { checkReferences, type ParsedRunbook } from '../runbooks/runbook-references.js';
import { parseRunbook } from '../runbooks/runbook.parser.js';
import { RUNBOOK_IMPORTERS, type ImportInput } from './kinds.js';
import { hasErrors, type Finding, type ImportResult } from './report.js';

/**
 * The one import path of `firebreak import KIND …` and `POST /runbooks/import`: convert, check
 * every produced file with the parser `firebreak lint` uses (a file that does not lint is an
 * importer bug: an error, nothing written), then write all files or none.
 */
export function importRunbooks(
  kind: string,
  inputs: ImportInput[],
  known: ReadonlySet<string> = new Set(),
): ImportResult {
  const importer = RUNBOOK_IMPORTERS[kind];
  if (!importer) throw new Error(`unknown import kind "${kind}"`);
  const result = importer.convert(inputs);
  const findings: Finding[] = [...result.findings];
  const parsed: ParsedRunbook[] = [];
  const seen = new Map<string, string>();
  for (const f of result.files) {
    const problem = unsafePath(f.path);
    if (problem) {
      findings.push(bug(f.path, `${f.path}: ${problem}`));
      continue;
    }
    if (seen.has(f.path.toLowerCase())) findings.push(bug(f.path, 'two runbooks for one file'));
    seen.set(f.path.toLowerCase(), f.name);
    const r = parseRunbook(f.path, f.content);
    if (r.ok) parsed.push({ file: f.path, text: f.content, definition: r.definition });
    else
      for (const p of r.problems)
        findings.push(bug(f.path, `${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`));
  }
  for (const list of checkReferences(parsed, known).values())
    for (const p of list)
      findings.push(bug(p.file, `${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`));
  return { files: result.files, findings };
}

function bug(file: string, message: string): Finding {
  return {
    level: 'error',
    source: { file },
    subject: 'output',
    message: `the produced runbook does not lint (an importer bug, please report it): ${message}`,
  };
}

/** Why a relative output path is not acceptable (absolute, `..`, not .yaml), or null. */
export function unsafePath(path: string): string | null {
  if (!path || isAbsolute(path) || /^[a-zA-Z]:/.test(path) || path.includes('\\'))
    return 'must be a relative path';
  const n = normalize(path);
  if (n.startsWith('..') || n.split(sep).includes('..') || path.split('/').includes('..'))
    return 'must stay inside the runbooks directory (no ..)';
  if (!/\.ya?ml$/.test(path)) return 'must end in .yaml';
  if (path.split('/').some((s) => s.startsWith('.'))) return 'no hidden files or folders';
  return null;
}

export interface WriteOutcome {
  written: string[];
  /** Files that exist and were not to be overwritten: nothing is written then. */
  existing: string[];
  /**
   * Runbooks another file in the directory already defines (`name (in other/file.yaml)`): two
   * files with one name would fail the next sync, so nothing is written then either.
   */
  clashes: string[];
}

/** The files under `dir` defining each runbook name (a file that does not parse: none). */
async function namesIn(dir: string): Promise<Map<string, string[]>> {
  const names = new Map<string, string[]>();
  for (const f of await readRunbookFiles(dir)) {
    try {
      const name = (parseYaml(f.text) as { name?: unknown } | null)?.name;
      if (typeof name === 'string') names.set(name, [...(names.get(name) ?? []), f.path]);
    } catch {
      // a broken file is the sync's (and lint's) to report
    }
  }
  return names;
}

export async function writeImport(
  dir: string,
  files: ImportResult['files'],
  overwrite: boolean,
): Promise<WriteOutcome> {
  const root = resolve(dir);
  const targets = files.map((f) => {
    const problem = unsafePath(f.path);
    const abs = resolve(root, f.path);
    if (problem || relative(root, abs).startsWith('..'))
      throw new Error(`${f.path}: ${problem ?? 'outside the directory'}`);
    return { file: f, abs };
  });
  const existing: string[] = [];
  for (const t of targets) {
    const st = await lstat(t.abs).catch(() => null);
    if (st && (!overwrite || !st.isFile())) existing.push(t.file.path);
  }
  if (existing.length) return { written: [], existing, clashes: [] };
  const defined = await namesIn(root);
  const clashes = targets.flatMap(({ file }) =>
    (defined.get(file.name) ?? [])
      .filter((at) => at !== file.path)
      .map((at) => `${file.name} (in ${at})`),
  );
  if (clashes.length) return { written: [], existing: [], clashes };
  const token = randomBytes(6).toString('hex');
  const temps: string[] = [];
  const placed: string[] = [];
  try {
    for (const t of targets) {
      await mkdir(dirname(t.abs), { recursive: true });
      const tmp = join(dirname(t.abs), `.${token}.${t.file.path.replace(/\//g, '_')}.tmp`);
      await writeFile(tmp, t.file.content, { flag: 'wx', mode: 0o644 });
      temps.push(tmp);
    }
    for (let i = 0; i < targets.length; i++) {
      await rename(temps[i], targets[i].abs);
      placed.push(targets[i].abs);
    }
  } catch (err) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    if (!overwrite) await Promise.all(placed.map((p) => rm(p, { force: true })));
    throw err;
  }
  return { written: targets.map((t) => t.file.path), existing: [], clashes: [] };
}

export { hasErrors };
