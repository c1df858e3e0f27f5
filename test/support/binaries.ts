import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// Test support for real system daemons (redis-server, sshd): locating (and, as root, installing)
// their binaries, picking free ports, and making sure nothing outlives the test process.

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const APT_LOCK_FILE = path.join(os.tmpdir(), 'firebreak-test-apt.lock');
const APT_TIMEOUT_MS = 15 * 60_000;

/** The error message for a binary that is missing and that we may not install ourselves. */
export function missingBinaryMessage(command: string, aptPackage: string): string {
  return (
    `The integration tests need \`${command}\`, which was not found on PATH or in ` +
    `${SBIN_DIRS.join(', ')}. Install it with: sudo apt-get install -y ${aptPackage}`
  );
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `command`, looking at `paths` first, then PATH, then the sbin directories. */
export async function findBinary(command: string, paths: string[] = []): Promise<string | null> {
  if (command.includes('/')) return (await isExecutable(command)) ? path.resolve(command) : null;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const candidates = [
    ...paths,
    ...[...dirs, ...SBIN_DIRS].map((dir) => path.join(path.resolve(dir), command)),
  ];
  for (const candidate of candidates) {
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env, maxBuffer: 64 * 1024 * 1024, timeout: APT_TIMEOUT_MS },
      (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
  });
}

/**
 * Holds an exclusive flock(1) on a file in os.tmpdir() for as long as the returned release
 * function has not been called. Vitest runs test files in separate processes, so an in-process
 * memo alone would still let two workers run apt at once. The lock is held by a `flock … cat`
 * child reading our stdin: if this process dies, the pipe closes and the lock is released.
 */
async function acquireAptLock(): Promise<() => Promise<void>> {
  const flock = await findBinary('flock');
  if (!flock) {
    throw new Error(
      'flock(1) is needed to serialise apt-get between test workers; install util-linux',
    );
  }
  const holder = spawn(
    flock,
    ['-w', String(APT_TIMEOUT_MS / 1000), APT_LOCK_FILE, 'sh', '-c', 'echo locked; exec cat'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  holder.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    holder.once('error', reject);
    holder.once('exit', (code) =>
      reject(new Error(`could not lock ${APT_LOCK_FILE} (flock exited ${code}): ${stderr}`)),
    );
  });
  return async () => {
    if (holder.exitCode !== null || holder.signalCode !== null) return;
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.stdin!.end();
    await exited;
  };
}

async function aptListsPresent(): Promise<boolean> {
  try {
    const files = await readdir('/var/lib/apt/lists');
    return files.some((file) => file.endsWith('_Packages') || file.includes('_Packages.'));
  } catch {
    return false;
  }
}

let aptUpdated = false;

async function aptGet(args: string[]): Promise<{ ok: boolean; output: string }> {
  return run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
}

async function aptUpdate(): Promise<void> {
  const result = await aptGet(['update']);
  if (!result.ok) throw new Error(`apt-get update failed:\n${result.output.slice(-4000)}`);
  aptUpdated = true;
}

async function aptInstall(command: string, aptPackage: string, paths: string[]): Promise<string> {
  const release = await acquireAptLock();
  try {
    // Another worker may have installed it while we were waiting for the lock.
    const already = await findBinary(command, paths);
    if (already) return already;

    if (!aptUpdated && !(await aptListsPresent())) await aptUpdate();
    let result = await aptGet(['install', '-y', '--no-install-recommends', aptPackage]);
    if (!result.ok && !aptUpdated) {
      // Stale or missing package lists ("Unable to locate package", 404s): refresh once, retry.
      await aptUpdate();
      result = await aptGet(['install', '-y', '--no-install-recommends', aptPackage]);
    }
    if (!result.ok) {
      throw new Error(
        `DEBIAN_FRONTEND=noninteractive apt-get install -y ${aptPackage} failed:\n` +
          result.output.slice(-4000),
      );
    }
    const installed = await findBinary(command, paths);
    if (!installed) {
      throw new Error(`apt-get installed ${aptPackage} but \`${command}\` is still not found`);
    }
    return installed;
  } finally {
    await release();
  }
}

const memo = new Map<string, Promise<string>>();

/**
 * Absolute path of a system binary the integration tests need. Installs the apt package when
 * the binary is missing and we are root (serialised across test worker processes); otherwise
 * throws an error naming the exact `sudo apt-get install -y …` command. Never skips silently.
 */
export async function ensureBinary(
  command: string,
  aptPackage: string,
  paths: string[] = [],
): Promise<string> {
  const key = `${command}\0${aptPackage}\0${paths.join('\0')}`;
  let pending = memo.get(key);
  if (!pending) {
    pending = (async () => {
      const found = await findBinary(command, paths);
      if (found) return found;
      if (process.getuid?.() !== 0) throw new Error(missingBinaryMessage(command, aptPackage));
      return aptInstall(command, aptPackage, paths);
    })();
    memo.set(key, pending);
    pending.catch(() => memo.delete(key));
  }
  return pending;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (callers must retry on EADDRINUSE). */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/**
 * Polls until `gate()` holds (e.g. the daemon logged that it is listening: without it, a probe
 * could be answered by another process that won a race for the same port) and then something on
 * host:port accepts a connection and, after `probe` is written, sends data satisfying `ready`.
 * `abort()` is checked on every round, so a daemon that exits fails fast with its output.
 */
export async function waitForPort(
  host: string,
  port: number,
  options: {
    timeoutMs: number;
    gate?: () => boolean;
    probe?: string;
    ready?: (received: string) => boolean;
    abort?: () => Error | undefined;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
    const aborted = options.abort?.();
    if (aborted) throw aborted;
    if (options.gate && !options.gate()) {
      lastError = new Error('daemon has not reported that it is listening');
      await new Promise((resolve) => setTimeout(resolve, delay));
      continue;
    }
    try {
      await probeOnce(host, port, Math.max(100, deadline - Date.now()), options);
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  const aborted = options.abort?.();
  if (aborted) throw aborted;
  throw new Error(
    `nothing ready on ${host}:${port} after ${options.timeoutMs} ms: ${String(lastError)}`,
  );
}

function probeOnce(
  host: string,
  port: number,
  timeoutMs: number,
  options: { probe?: string; ready?: (received: string) => boolean },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = '';
    const finish = (error?: Error) => {
      socket.destroy();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error('probe timed out')), Math.min(timeoutMs, 2000));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => {
      if (options.probe) socket.write(options.probe);
      if (!options.ready) finish();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (options.ready?.(received)) finish();
    });
    socket.once('close', () => finish(new Error(`connection closed; received ${received}`)));
  });
}

interface Tracked {
  child: ChildProcess;
  dir?: string;
}

const tracked = new Set<Tracked>();
let exitHookInstalled = false;

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Makes sure a daemon child does not outlive this process: a SIGKILL plus temp-dir removal in a
 * process 'exit' hook, and a watchdog shell that SIGKILLs the daemon when our end of its stdin
 * pipe closes, then removes the temp dir (covers the test worker itself being SIGKILLed, when
 * no exit hook runs). Returns a function that disarms both after a normal shutdown.
 */
export function killOnExit(child: ChildProcess, options: { dir?: string } = {}): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const entry of tracked) {
        if (alive(entry.child)) entry.child.kill('SIGKILL');
        if (entry.dir) rmSync(entry.dir, { recursive: true, force: true });
      }
    });
  }
  const entry: Tracked = { child, dir: options.dir };
  tracked.add(entry);

  let watchdog: ChildProcess | undefined;
  if (child.pid) {
    const script = 'cat >/dev/null; kill -9 "$1" 2>/dev/null; [ -z "$2" ] || rm -rf -- "$2"';
    watchdog = spawn('sh', ['-c', script, 'watchdog', String(child.pid), options.dir ?? ''], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    watchdog.on('error', () => {});
    watchdog.unref();
    (watchdog.stdin as unknown as net.Socket).unref?.();
  }
  return () => {
    tracked.delete(entry);
    if (watchdog) {
      watchdog.kill('SIGKILL');
      watchdog.stdin?.destroy();
    }
  };
}

/** Pids of all live descendants of `pid`, from /proc (empty where there is no /proc). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may contain spaces and parens, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const siblings = parents.get(ppid) ?? [];
      siblings.push(Number(name));
      parents.set(ppid, siblings);
    } catch {
      // exited meanwhile
    }
  }
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      result.push(child);
      queue.push(child);
    }
  }
  return result;
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. With `tree`, the
 * child is first SIGSTOPped (so it cannot fork meanwhile) and all its descendants SIGKILLed:
 * sshd's per-connection processes call setsid() and would otherwise outlive the listener.
 */
export async function terminate(
  child: ChildProcess,
  options: { tree?: boolean; graceMs?: number } = {},
): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (options.tree && child.pid) {
    child.kill('SIGSTOP');
    for (const pid of descendants(child.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    child.kill('SIGTERM');
    child.kill('SIGCONT');
  } else {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5000);
  await exited;
  clearTimeout(timer);
}
