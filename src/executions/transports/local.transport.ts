import { spawn } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';

import { LineSplitter, MAX_LINE_BYTES } from './line-splitter.js';
import { LineSink, pauseWhenFull, type ExecOptions, type ExecResult } from './exec.js';
import { EXECUTION_MARKER } from './local-processes.js';
import type { RunAs } from './local-user.js';
import {
  SpawnerUnavailable,
  type LocalChild,
  type LocalSpawner,
  type SpawnRequest,
} from './spawner.js';

/**
 * Diagnostics channel: `{ pid, command }` once a local command's process exists (its pid is
 * known here), whichever way it was started; the dispatch bench places "spawned" with it.
 */
export const localSpawned = channel('firebreak:local-spawned');

/** After SIGTERM, how long the process group gets before SIGKILL. */
export const LOCAL_KILL_GRACE_MS = 2000;

/**
 * Variables passed through from the service's own environment. Everything else (database URL,
 * signing and encryption keys…) stays out of runbook commands; pass more with `env`.
 */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TZ', 'TMPDIR'];

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (INHERITED_ENV.includes(name) || name.startsWith('LC_'))) {
      env[name] = value;
    }
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    // EPERM: something in the group exists but is not ours to signal; treat as alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Runs `command` with `/bin/sh -c` on this machine, in its own process group (`detached`), so a
 * timeout or cancel stops everything it started: SIGTERM to the group, SIGKILL after 2 s if any
 * of it is still there (`killGraceMs`). Output is streamed line by line like an SSH exec. Resolves when the
 * command's output streams close (like sshd: background jobs that keep stdout open keep the
 * command running). The environment is a small allow-list from this process (PATH, HOME, USER,
 * LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR) plus `env`. If `onLine` throws, later lines are not
 * delivered and the promise rejects with that error once the command has finished.
 */
export interface LocalExecOptions extends ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  killGraceMs?: number;
  /**
   * Run as this (unprivileged) user: its uid/gid (supplementary groups dropped), HOME, USER and
   * LOGNAME, and its home as the working directory unless `cwd` is given.
   */
  runAs?: RunAs;
  /**
   * Starts the command from this small helper process rather than by forking this one (see
   * `LocalSpawner`); without it, `child_process.spawn` here.
   */
  spawner?: LocalSpawner;
  /** Sets `FIREBREAK_EXECUTION` (the leftover marker) and reports the group while it lives. */
  track?: {
    executionId: string;
    started(pgid: number): void;
    ended(pgid: number): void;
  };
}

/** The environment of a local command: the allow-list, the run user's identity, the marker. */
function commandEnv(opts: LocalExecOptions): Record<string, string> {
  const env = baseEnv();
  if (opts.runAs) {
    env.HOME = opts.runAs.home;
    env.USER = env.LOGNAME = opts.runAs.user;
    env.SHELL = '/bin/sh';
    delete env.TMPDIR;
  }
  Object.assign(env, opts.env);
  if (opts.track) env[EXECUTION_MARKER] = opts.track.executionId;
  return env;
}

export function runLocal(command: string, opts: LocalExecOptions): Promise<ExecResult> {
  const started = Date.now();
  if (command.includes('\0')) return Promise.reject(new Error('command contains a NUL byte'));
  if (opts.signal?.aborted) {
    return Promise.resolve({
      exitCode: null,
      signal: null,
      timedOut: false,
      canceled: true,
      durationMs: 0,
    });
  }

  const req: SpawnRequest = {
    command,
    cwd: opts.cwd ?? opts.runAs?.home,
    env: commandEnv(opts),
    ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
  };
  if (opts.spawner)
    return opts.spawner.spawn(req).then(
      (child) => watch(command, child, opts, started),
      (error: unknown) => {
        if (error instanceof SpawnerUnavailable)
          return watch(command, spawnHere(req), opts, started);
        throw error;
      },
    );
  return watch(command, spawnHere(req), opts, started);
}

function spawnHere(req: SpawnRequest): LocalChild {
  return spawn('/bin/sh', ['-c', req.command], {
    cwd: req.cwd,
    env: req.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(req.uid !== undefined ? { uid: req.uid, gid: req.gid } : {}),
  });
}

/** Streams a started command's output line by line; resolves with its status. */
function watch(
  command: string,
  child: LocalChild,
  opts: LocalExecOptions,
  started: number,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const sink = new LineSink(opts.onLine);
    const deliver = sink.deliver;
    const out = new LineSplitter((line) => deliver('stdout', line), MAX_LINE_BYTES, opts.mask);
    const err = new LineSplitter((line) => deliver('stderr', line), MAX_LINE_BYTES, opts.mask);

    const pid = child.pid;
    if (pid !== undefined) {
      if (localSpawned.hasSubscribers) localSpawned.publish({ pid, command });
      opts.track?.started(pid);
    }
    const holdIfFull = pauseWhenFull(opts.backpressure, [child.stdout, child.stderr]);
    child.stdout.on('data', (chunk: Buffer) => {
      out.write(chunk);
      holdIfFull();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err.write(chunk);
      holdIfFull();
    });
    // The spawner's sockets come paused (a pipe starts flowing with its first 'data' listener).
    child.stdout.resume();
    child.stderr.resume();

    let timedOut = false;
    let canceled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = () => {
      if (stopped || pid === undefined) return;
      stopped = true;
      killGroup(pid, 'SIGTERM');
      const deadline = Date.now() + (opts.killGraceMs ?? LOCAL_KILL_GRACE_MS);
      // Poll so that a group that exits quickly does not keep a 2 s timer alive.
      const check = () => {
        if (!groupAlive(pid)) return;
        if (Date.now() >= deadline) {
          killGroup(pid, 'SIGKILL');
          return;
        }
        killTimer = setTimeout(check, 50);
      };
      killTimer = setTimeout(check, 50);
    };

    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            if (canceled) return;
            timedOut = true;
            stop();
          }, opts.timeoutMs)
        : undefined;
    const onAbort = () => {
      if (timedOut) return;
      canceled = true;
      stop();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // Canceled while the spawner was starting it.
    if (opts.signal?.aborted) onAbort();

    const cleanup = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };

    child.once('error', (error) => {
      cleanup();
      clearTimeout(killTimer);
      if (pid !== undefined) opts.track?.ended(pid);
      reject(error);
    });
    child.once('close', (code, signal) => {
      cleanup();
      out.end();
      err.end();
      // The shell is gone but, after a stop, stragglers that closed their stdio may remain:
      // the poll above keeps running until the group is empty or has been SIGKILLed.
      if (!stopped) clearTimeout(killTimer);
      // Background jobs that let go of stdout keep the group alive: they stay on the record,
      // for the leftover reaper once this worker is gone.
      if (pid !== undefined && (stopped || !groupAlive(pid))) opts.track?.ended(pid);
      if (sink.error !== undefined) {
        reject(sink.error);
        return;
      }
      resolve({
        exitCode: code,
        signal,
        timedOut,
        canceled,
        durationMs: Date.now() - started,
      });
    });
  });
}
