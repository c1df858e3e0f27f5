// Builds dist/ (the service) and console/dist (the web console) when any of their sources is
// newer than the last build. `npm start`, the CLI and the
// migration scripts call this, so a fresh clone needs no separate build step and a second start
// is fast. A lock directory keeps concurrent callers from building over each other.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', 'src', 'main.js');
const consoleStamp = join(root, 'console', 'dist', 'index.html');
// The console is always built for production, whoever asks (vitest sets NODE_ENV=test, which
// would make React's development bundle): the tests drive what `npm start` serves, and a test run
// never rebuilds under a running browser. A build recorded for another NODE_ENV (an older
// checkout's) counts as stale.
const consoleModeFile = join(root, 'console', 'dist', '.node-env');
const consoleMode = () => 'production';
const CONSOLE_SOURCES = /\.(ts|tsx|css|html|svg|json)$/;
const lock = join(root, '.build.lock');

function newest(dir, matches = (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts')) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'dist' && entry.name !== 'node_modules') max = Math.max(max, newest(p, matches));
    } else if (matches(entry.name)) max = Math.max(max, statSync(p).mtimeMs);
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

function consoleStale() {
  const mode = existsSync(consoleModeFile) ? readFileSync(consoleModeFile, 'utf8') : '';
  if (mode !== consoleMode()) return true;
  const built = existsSync(consoleStamp) ? statSync(consoleStamp).mtimeMs : 0;
  const sources = Math.max(
    newest(join(root, 'console'), (name) => CONSOLE_SOURCES.test(name)),
    statSync(join(root, 'package-lock.json')).mtimeMs,
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

/** The service (and with `console: true` the web console) when its sources changed. */
export function buildIfNeeded({ console: withConsole = false, service = true } = {}) {
  const needService = () => service && stale();
  const needConsole = () => withConsole && consoleStale();
  if (!needService() && !needConsole()) return false;
  acquire();
  try {
    let built = false;
    if (needService()) {
      // (someone else may have built it while we waited)
      process.stderr.write('firebreak: building (sources changed since the last build)…\n');
      execFileSync(process.execPath, [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build'], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      built = true;
    }
    if (needConsole()) {
      process.stderr.write('firebreak: building the web console…\n');
      execFileSync(
        process.execPath,
        [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(root, 'console', 'vite.config.ts'), '--logLevel', 'warn'],
        { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_ENV: consoleMode() } },
      );
      writeFileSync(consoleModeFile, consoleMode());
      built = true;
    }
    return built;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Only the web console (the console tests' setup). */
export function buildConsoleIfNeeded() {
  return buildIfNeeded({ console: true, service: false });
}
