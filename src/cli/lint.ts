import { readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { parseFreezes } from '../runbooks/freezes.js';
import { readRunbookFiles } from '../runbooks/runbook-files.js';
import { checkReferences, type ParsedRunbook } from '../runbooks/runbook-references.js';
import { parseRunbook, type RunbookProblem } from '../runbooks/runbook.parser.js';

export interface LintResult {
  files: number;
  valid: number;
  problems: RunbookProblem[];
}

/**
 * Lints files and directories of runbooks as the server would sync them: each file on its own,
 * then references between them. Problem paths are relative to `cwd`.
 */
export async function lintPaths(paths: string[], cwd = process.cwd()): Promise<LintResult> {
  const inputs: Array<{ file: string; text: string }> = [];
  const freezes: Array<{ file: string; text: string }> = [];
  for (const p of paths.length ? paths : ['runbooks']) {
    const abs = resolve(cwd, p);
    const st = await stat(abs).catch(() => null);
    if (!st) {
      inputs.push({ file: p, text: '' });
      continue;
    }
    if (st.isDirectory()) {
      for (const f of await readRunbookFiles(abs))
        inputs.push({ file: relative(cwd, f.absolutePath), text: f.text });
      // The change-freeze file beside the runbooks is reviewed (and linted) with them.
      for (const name of FREEZE_FILES) {
        const text = await readFile(join(abs, name), 'utf8').catch(() => null);
        if (text !== null) freezes.push({ file: relative(cwd, join(abs, name)), text });
      }
    } else if (FREEZE_FILES.includes(basename(abs))) {
      freezes.push({ file: relative(cwd, abs), text: await readFile(abs, 'utf8') });
    } else {
      inputs.push({ file: relative(cwd, abs), text: await readFile(abs, 'utf8') });
    }
  }
  const problems: RunbookProblem[] = [];
  const parsed: ParsedRunbook[] = [];
  for (const { file, text } of inputs) {
    if (text === '' && !(await stat(resolve(cwd, file)).catch(() => null))) {
      problems.push({ file, path: '', line: 1, col: 1, message: 'no such file or directory' });
      continue;
    }
    const r = parseRunbook(file, text);
    if (r.ok) parsed.push({ file, text, definition: r.definition });
    else problems.push(...r.problems);
  }
  const refs = checkReferences(parsed, new Set());
  for (const list of refs.values()) problems.push(...list);
  let validFreezes = 0;
  for (const { file, text } of freezes) {
    const r = parseFreezes(file, text);
    if (r.ok) validFreezes++;
    else problems.push(...r.problems);
  }
  return {
    files: inputs.length + freezes.length,
    valid: parsed.length - refs.size + validFreezes,
    problems,
  };
}

const FREEZE_FILES = ['freezes.yaml', 'freezes.yml'];

export function formatProblem(p: RunbookProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`;
}
