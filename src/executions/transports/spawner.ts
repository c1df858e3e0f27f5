import { fork, type ChildProcess } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A local command as the spawner runs it: `/bin/sh -c command`, in a session of its own
 * (`detached`), stdin closed, with exactly `env`, as `uid`/`gid` when given.
 */
export interface SpawnSpec {
  command: string;
  cwd?: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

/** What the caller hears about one command, in order: spawned, data…, then close or error. */
export interface SpawnHandlers {
  spawned(pid: number | undefined): void;
  data(fd: 1 | 2, chunk: Buffer): void;
  close(code: number | null, signal: NodeJS.Signals | null): void;
  error(error: Error): void;
}

/** Flow control of one spawned command's output (both streams together). */
export interface SpawnedOutput {
  pause(): void;
  resume(): void;
}

type Reply =
  | { t: 'ready' }
  | { t: 'spawned'; id: number; pid?: number }
  | { t: 'data'; id: number; fd: 1 | 2; chunk: Buffer | Uint8Array }
  | { t: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { t: 'error'; id: number; message: string; code?: string };

interface Pending {
  handlers: SpawnHandlers;
  pid?: number;
}

/**
 * `{ pid }` when the helper said it spawned a command (what Node's `child_process` channel
 * says for a spawn in this process): the bench's "spawned" time.
 */
export const LOCAL_SPAWNED_CHANNEL = 'firebreak.local.spawned';
const spawnedChannel = channel(LOCAL_SPAWNED_CHANNEL);

/** The helper's file next to this one: the .ts under src/ (Node strips its types), .js in dist/. */
function helperPath(): string {
  const own = fileURLToPath(import.meta.url);
  const ts = own.replace(/spawner\.(ts|js)$/, 'spawner-process.ts');
  const js = own.replace(/spawner\.(ts|js)$/, 'spawner-process.js');
  return own.endsWith('.ts') && existsSync(ts) ? ts : js;
}

/**
 * Spawns local commands from a small long-lived Node process instead of the worker itself.
 * A spawn is a `fork()` of the spawning process, synchronous on its event loop, and its cost
 * grows with the process's memory (a bare Node: ≈ 3 ms; a worker of 370 MB: ≈ 12 ms, every
 * other request of that process waiting meanwhile). The helper is small, so its fork is cheap,
 * and it forks off the worker's event loop.
 *
 * The helper only spawns and relays: the command's output comes back over the IPC channel in
 * order, its exit code and signal after all of it. Everything else stays with the caller
 * (local.transport.ts): the environment (built there), the run-as user, the process group it
 * signals directly on timeout or cancel, the leftover records. Flow control: `pause()` stops
 * reading the command's pipes in the helper (the command then blocks on write), and the
 * helper never has more than 256 KB of a command's output sent and not yet taken here (each
 * chunk is acknowledged once handled), so a pause holds within that much.
 *
 * The helper exits when the worker does (its channel closes), leaving its commands running in
 * their sessions for the leftover reaper, as a worker killed with `kill -9` always did. If the
 * helper dies, the commands it ran are killed (their output has nowhere to go) and fail with
 * an error; the next spawn starts a new helper.
 */
export class LocalSpawner {
  private child: ChildProcess | undefined;
  private ready: Promise<ChildProcess> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idle: (() => void) | undefined;
  /** Helpers started (1 unless one died), for tests. */
  starts = 0;

  private readonly onWarn: (message: string) => void;

  constructor(onWarn: (message: string) => void = () => {}) {
    this.onWarn = onWarn;
  }

  /** The helper's pid, once started (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the helper now (it is also started on first use). */
  warm(): Promise<void> {
    return this.helper().then(
      () => undefined,
      () => undefined,
    );
  }

  spawn(spec: SpawnSpec, handlers: SpawnHandlers): SpawnedOutput {
    const id = ++this.nextId;
    this.pending.set(id, { handlers });
    this.holdOpen();
    const send = (message: object) => {
      void this.helper().then(
        (c) => {
          if (c.connected) c.send(message);
        },
        () => undefined,
      );
    };
    this.helper().then(
      (c) => {
        this.holdOpen();
        c.send({ t: 'spawn', id, ...spec });
      },
      (error: Error) => this.fail(id, error),
    );
    return {
      pause: () => send({ t: 'pause', id }),
      resume: () => send({ t: 'resume', id }),
    };
  }

  /**
   * Stops the helper (module shutdown) once its commands have reported how they ended, or
   * after `graceMs`; commands still running then keep running (for the leftover reaper).
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.pending.size) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.idle = undefined;
    }
    const c = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (c?.connected) c.disconnect();
  }

  private fail(id: number, error: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.done(id);
    p.handlers.error(error);
  }

  /**
   * The helper keeps this process alive only while one of its commands runs (as the command's
   * own pipes would): an idle helper never holds up the exit.
   */
  private holdOpen(): void {
    this.child?.channel?.ref();
  }

  private done(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) {
      this.child?.channel?.unref();
      this.idle?.();
    }
  }

  private helper(): Promise<ChildProcess> {
    if (this.ready) return this.ready;
    this.ready = new Promise<ChildProcess>((resolve, reject) => {
      let c: ChildProcess;
      try {
        c = fork(helperPath(), [], {
          // Not this process's flags (a test runner's loaders, --inspect): a bare Node.
          execArgv: ['--no-warnings'],
          // Nothing of the service's environment: commands get the env each request carries.
          env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
          serialization: 'advanced',
        });
      } catch (error) {
        this.ready = undefined;
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.starts++;
      this.child = c;
      c.unref();
      if (this.pending.size === 0) c.channel?.unref();
      let up = false;
      c.on('message', (m: Reply) => {
        if (m.t === 'ready') {
          up = true;
          resolve(c);
          return;
        }
        this.reply(m);
      });
      c.once('error', (error) => {
        if (!up) reject(error);
      });
      c.once('exit', (code, signal) => {
        if (this.child === c) {
          this.child = undefined;
          this.ready = undefined;
        }
        const why = `the local spawner process exited (${signal ?? `code ${code}`})`;
        if (!up) reject(new Error(why));
        else if (this.pending.size) this.onWarn(`${why}: ${this.pending.size} command(s) lost`);
        this.abandon(why);
      });
    });
    // Nothing waits on a failed start but the spawns that asked (they reject with it).
    this.ready.catch(() => undefined);
    return this.ready;
  }

  /** The helper died: its commands cannot be followed any more; stop them and fail them. */
  private abandon(why: string): void {
    for (const [id, p] of this.pending) {
      if (p.pid !== undefined) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      this.fail(id, new Error(`${why}: the command was stopped`));
    }
  }

  private reply(m: Exclude<Reply, { t: 'ready' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.t) {
      case 'spawned':
        p.pid = m.pid;
        if (spawnedChannel.hasSubscribers) spawnedChannel.publish({ pid: m.pid });
        p.handlers.spawned(m.pid);
        break;
      case 'data': {
        const chunk = Buffer.isBuffer(m.chunk)
          ? m.chunk
          : Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
        p.handlers.data(m.fd, chunk);
        // Taken (split into lines, queued or paused): the helper may send more.
        if (this.child?.connected) this.child.send({ t: 'ack', id: m.id, bytes: chunk.length });
        break;
      }
      case 'close':
        this.done(m.id);
        p.handlers.close(m.code, m.signal);
        break;
      case 'error': {
        this.done(m.id);
        const error = new Error(m.message) as NodeJS.ErrnoException;
        if (m.code) error.code = m.code;
        p.handlers.error(error);
        break;
      }
    }
  }
}
