import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `runLocal` needs of a started command (a `ChildProcess` has it too). */
export interface LocalChild {
  readonly pid?: number | undefined;
  readonly stdout: NodeJS.ReadableStream & { pause(): unknown; resume(): unknown };
  readonly stderr: NodeJS.ReadableStream & { pause(): unknown; resume(): unknown };
  once(event: 'error', listener: (error: Error) => void): this;
  once(
    event: 'close',
    listener: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): this;
}

export interface SpawnRequest {
  command: string;
  cwd?: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

/** A command started by the spawner: `close` once it exited and both its outputs ended. */
class SpawnedChild extends EventEmitter implements LocalChild {
  pid: number | undefined;
  stdout!: Socket;
  stderr!: Socket;
  private open = 2;
  private exit: [number | null, NodeJS.Signals | null] | undefined;
  private done = false;

  attach(stream: 'o' | 'e', socket: Socket): void {
    if (stream === 'o') this.stdout = socket;
    else this.stderr = socket;
    // A stream that ended empty may have closed already (EOF came with its name).
    if (socket.closed) this.open--;
    else
      socket.once('close', () => {
        this.open--;
        this.maybeClose();
      });
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = [code, signal];
    this.maybeClose();
  }

  /** Never handed out: its sockets (if any came) are dropped. */
  discard(): void {
    this.done = true;
    this.stdout?.destroy();
    this.stderr?.destroy();
  }

  fail(error: Error): void {
    if (this.done) return;
    this.discard();
    this.emit('error', error);
  }

  /** After the turn that handed this child out: its listeners are on by then. */
  maybeClose(): void {
    if (this.done || this.open > 0 || !this.exit) return;
    this.done = true;
    const [code, signal] = this.exit;
    setImmediate(() => this.emit('close', code, signal));
  }
}

interface Pending {
  child: SpawnedChild;
  /** The socket pair the helper gave the command (with its pid). */
  pair?: number;
  resolve(child: LocalChild): void;
  reject(error: Error): void;
}

type FromHelper =
  | { t: 'ready' }
  | { t: 'spawned'; id: number; pid: number; pair: number }
  | { t: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { t: 'error'; id: number; message: string; code?: string };

/** The helper's entry: beside this module, as .ts under the test runner or .js from dist/. */
function helperPath(): string {
  const here = fileURLToPath(import.meta.url);
  const js = join(here, '..', 'spawner-child.js');
  return here.endsWith('.ts') || !existsSync(js) ? join(here, '..', 'spawner-child.ts') : js;
}

/** The helper could not be started: the caller starts the command itself. */
export class SpawnerUnavailable extends Error {}

/** After the helper failed to start, how long commands are forked by the worker itself. */
const RETRY_AFTER_MS = 60_000;

/**
 * Starts local commands from a small long-lived helper process (spawner-child.ts) instead of
 * forking the worker: `fork()` is synchronous on the forking process's event loop and costs with
 * its memory, so in a large api + worker process every local command stalled everything else for
 * milliseconds. The command's stdout and stderr are Unix sockets connected straight to this
 * process (a private socket in a 0700 directory): the helper only starts commands and reports
 * their pid and exit status, it never carries their output, so flow control is the same as with
 * pipes (pausing a socket stops the command when the buffer is full). If the helper dies, the
 * commands it was watching fail with an error naming it, and the next command starts a new one.
 */
export class LocalSpawner {
  private helper: ChildProcess | undefined;
  private ready: Promise<ChildProcess> | undefined;
  private server: Server | undefined;
  private dir: string | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Socket pairs the helper connected, by pair number, until a command is given them. */
  private readonly pairs = new Map<number, { o?: Socket; e?: Socket }>();
  /** Commands started and not yet exited, for their exit status. */
  private readonly live = new Map<number, SpawnedChild>();
  private closed = false;
  private unavailableUntil = 0;

  /**
   * `socketParent`: where the private socket directory is made (the system's temp dir);
   * `warn`: told when the helper cannot start (commands are then forked by the caller).
   */
  constructor(
    private readonly opts: { socketParent?: string; warn?: (message: string) => void } = {},
  ) {}

  /**
   * Starts `req` from the helper. Rejects with `SpawnerUnavailable` when the helper cannot be
   * started (a read-only temp dir, no fork): the caller then forks the command itself, and so
   * for the next minute, when starting the helper is tried again.
   */
  async spawn(req: SpawnRequest): Promise<LocalChild> {
    if (Date.now() < this.unavailableUntil)
      throw new SpawnerUnavailable('the local spawner is unavailable');
    let helper: ChildProcess;
    try {
      helper = await this.start();
    } catch (error) {
      if (this.closed) throw error;
      this.unavailableUntil = Date.now() + RETRY_AFTER_MS;
      this.opts.warn?.(
        `the local spawner could not start (${(error as Error).message}); local commands are forked by the worker for now`,
      );
      throw new SpawnerUnavailable((error as Error).message, { cause: error });
    }
    const id = ++this.nextId;
    const child = new SpawnedChild();
    return new Promise<LocalChild>((resolve, reject) => {
      this.pending.set(id, { child, resolve, reject });
      this.holdOpen();
      helper.send({ t: 'spawn', id, ...req });
    });
  }

  /**
   * Stops the helper and removes the socket. Commands still running get up to `graceMs` to end
   * (and report their status); what is left then is killed by the helper as it exits.
   */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    const until = Date.now() + graceMs;
    while ((this.live.size || this.pending.size) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    const helper = this.helper;
    this.helper = undefined;
    this.ready = undefined;
    if (helper && helper.exitCode === null && helper.signalCode === null) {
      const gone = new Promise((r) => helper.once('exit', r));
      helper.disconnect();
      await gone;
    }
    this.dropPairs();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private start(): Promise<ChildProcess> {
    if (this.closed) return Promise.reject(new Error('the local spawner is closed'));
    this.ready ??= this.launch().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async launch(): Promise<ChildProcess> {
    if (!this.server) {
      // Only this process's user may connect: a command cannot inject lines into another's log.
      this.dir = mkdtempSync(join(this.opts.socketParent ?? tmpdir(), 'firebreak-spawner-'));
      const path = join(this.dir, 's');
      const server = createServer((s) => this.accept(s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      server.unref();
      this.server = server;
    }
    const helper = fork(helperPath(), [join(this.dir!, 's')], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the local spawner exited at start (${code})`));
      helper.once('error', reject);
      helper.once('exit', onExit);
      helper.once('message', () => {
        helper.off('exit', onExit);
        helper.off('error', reject);
        resolve();
      });
    });
    helper.on('message', (m: FromHelper) => this.onMessage(m));
    helper.once('exit', (code, signal) => this.lost(helper, code, signal));
    helper.unref();
    (helper.channel as { unref?: () => void } | undefined)?.unref?.();
    this.helper = helper;
    return helper;
  }

  private accept(socket: Socket): void {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl === -1) {
        if (head.length > 32) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const [pairText, stream] = head.slice(0, nl).split(' ');
      const pair = Number(pairText);
      if (!Number.isSafeInteger(pair) || (stream !== 'o' && stream !== 'e')) {
        socket.destroy();
        return;
      }
      // Output that came in the same read as the name goes back in front of the stream.
      const rest = chunk.subarray(chunk.length - (head.length - nl - 1));
      if (rest.length) socket.unshift(rest);
      // A pair waiting for a command does not keep this process alive.
      socket.unref();
      const entry = this.pairs.get(pair) ?? {};
      entry[stream] = socket;
      this.pairs.set(pair, entry);
      for (const [id, p] of this.pending) if (p.pair === pair) this.settle(id, p);
    };
    socket.on('data', onData);
    socket.once('error', () => socket.destroy());
  }

  private onMessage(m: FromHelper): void {
    if (m.t === 'spawned') {
      const p = this.pending.get(m.id);
      if (!p) return;
      p.child.pid = m.pid;
      p.pair = m.pair;
      this.live.set(m.id, p.child);
      this.settle(m.id, p);
    } else if (m.t === 'exit') {
      const child = this.live.get(m.id);
      this.live.delete(m.id);
      child?.exited(m.code, m.signal);
      this.holdOpen();
    } else if (m.t === 'error') {
      const error = Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
      const p = this.pending.get(m.id);
      if (p) {
        this.pending.delete(m.id);
        p.child.discard();
        p.reject(error);
      } else {
        const child = this.live.get(m.id);
        this.live.delete(m.id);
        child?.fail(error);
      }
      this.holdOpen();
    }
  }

  /** The IPC channel keeps this process alive only while a command's status is awaited. */
  private holdOpen(): void {
    const channel = this.helper?.channel as { ref?: () => void; unref?: () => void } | undefined;
    if (this.pending.size || this.live.size) channel?.ref?.();
    else channel?.unref?.();
  }

  /** A spawned command gets its pair once both of its sockets are here. */
  private settle(id: number, p: Pending): void {
    const entry = p.pair === undefined ? undefined : this.pairs.get(p.pair);
    if (!entry?.o || !entry.e) return;
    this.pairs.delete(p.pair!);
    this.pending.delete(id);
    p.child.attach('o', entry.o.ref());
    p.child.attach('e', entry.e.ref());
    p.resolve(p.child);
    p.child.maybeClose();
  }

  private lost(helper: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.helper === helper) {
      this.helper = undefined;
      this.ready = undefined;
    }
    const error = new Error(
      `the local spawner process exited (${signal ?? code}); the command's exit status is unknown`,
    );
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.child.discard();
      p.reject(error);
    }
    for (const [id, child] of this.live) {
      this.live.delete(id);
      child.fail(error);
    }
    this.dropPairs();
  }

  /** Socket pairs no command was given: their helper is gone (or this spawner closes). */
  private dropPairs(): void {
    for (const entry of this.pairs.values()) {
      entry.o?.destroy();
      entry.e?.destroy();
    }
    this.pairs.clear();
  }
}
