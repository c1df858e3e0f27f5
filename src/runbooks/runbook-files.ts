import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface RunbookFile {
  /** Path relative to the runbooks directory. */
  path: string;
  absolutePath: string;
  text: string;
}

const RUNBOOK_FILE = /\.ya?ml$/;
/** Files that live beside runbooks but are not runbooks. */
const NOT_RUNBOOKS = new Set([
  'inventory.yaml',
  'inventory.yml',
  'policy.yaml',
  'policy.yml',
  'freezes.yaml',
  'freezes.yml',
]);

/** Every `*.yaml` / `*.yml` under the directory (recursively; dot-directories skipped), sorted. */
export async function readRunbookFiles(dir: string): Promise<RunbookFile[]> {
  const out: RunbookFile[] = [];
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && RUNBOOK_FILE.test(entry.name) && !NOT_RUNBOOKS.has(entry.name)) {
        out.push({ path: relative(dir, p), absolutePath: p, text: await readFile(p, 'utf8') });
      }
    }
  };
  try {
    if (!(await stat(dir)).isDirectory()) return [];
  } catch {
    return [];
  }
  await walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The commit that last changed a file, when the directory is a git work tree and the file has no
 * uncommitted changes (otherwise what is on disk is not what the commit holds): null.
 */
export async function gitCommitOf(file: string, dir: string): Promise<string | null> {
  try {
    const [{ stdout: status }, { stdout: commit }] = await Promise.all([
      execFileAsync('git', ['-C', dir, 'status', '--porcelain', '--', file], { timeout: 5000 }),
      execFileAsync('git', ['-C', dir, 'log', '-1', '--format=%H', '--', file], { timeout: 5000 }),
    ]);
    const sha = commit.trim();
    return status.trim() === '' && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}
