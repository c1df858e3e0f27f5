// Builds dist/ when any source is newer than the last build. `npm start`, the CLI and the
// migration scripts call this, so a fresh clone needs no separate build step and a second start
// is fast. A lock directory keeps concurrent callers from building over each other.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', 'src', 'main.js');
const lock = join(root, '.build.lock');

function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) max = Math.max(max, newest(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) max = Math.max(max, statSync(p).mtimeMs);
  }
  return max;
}

function stale() {
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  const sources = Math.max(
    newest(join(root, 'src')),
    newest(join(root, 'migrations')),
    ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => statSync(join(root, f)).mtimeMs),
  );
  return built < sources;
}

function acquire() {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch {
      // A lock older than three minutes belongs to a build that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`could not take the build lock ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

export function buildIfNeeded() {
  if (!stale()) return false;
  acquire();
  try {
    if (!stale()) return false; // someone else built it while we waited
    process.stderr.write('firebreak: building (sources changed since the last build)…\n');
    execFileSync(process.execPath, [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
