import type { LineMask } from './line-splitter.js';
/** What both transports (SSH and local) take and return for one command. */

export interface ExecResult {
  /** The remote exit status; null when the process was killed by a signal or never reported. */
  exitCode: number | null;
  /** The signal that killed the process (`SIGTERM`), when the server reported one. */
  signal: string | null;
  timedOut: boolean;
  canceled: boolean;
  durationMs: number;
}

export type OutputStream = 'stdout' | 'stderr';

export interface ExecOptions {
  /** Stops the command (its whole process group) after this long; counted from its start. */
  timeoutMs?: number;
  /** Aborting stops the command the same way; a command still queued never starts. */
  signal?: AbortSignal;
  onLine: (stream: OutputStream, line: string) => void;
  /** Flow control: while it is full the transport stops reading the command's output. */
  backpressure?: Backpressure;
  /** Secure values: a line cut for length is masked before the cut (see `LineSplitter`). */
  mask?: LineMask;
}

/**
 * What consumes a command's lines tells its producer to hold off: after each chunk of output the
 * transport asks `isFull()` and, if so, pauses its streams (the child's pipes, the SSH channel:
 * the command then blocks on write) until `whenDrained` calls back.
 */
export interface Backpressure {
  isFull(): boolean;
  /** Calls `fn` once, when there is room again. */
  whenDrained(fn: () => void): void;
}

/**
 * Pauses `streams` while `bp` is full; call the returned function after handing a chunk's lines
 * on. One pause at a time: the streams resume together when `bp` has drained.
 */
export function pauseWhenFull(
  bp: Backpressure | undefined,
  streams: ReadonlyArray<{ pause(): unknown; resume(): unknown }>,
): () => void {
  let paused = false;
  return () => {
    if (!bp || paused || !bp.isFull()) return;
    paused = true;
    for (const s of streams) s.pause();
    bp.whenDrained(() => {
      paused = false;
      for (const s of streams) s.resume();
    });
  };
}

/**
 * Hands output lines to `onLine` until it throws: the first error is kept (the command's result
 * rejects with it once the command ends) and later lines are dropped.
 */
export class LineSink {
  private failure: Error | undefined;

  constructor(private readonly onLine: ExecOptions['onLine']) {}

  readonly deliver = (stream: OutputStream, line: string): void => {
    if (this.failure !== undefined) return;
    try {
      this.onLine(stream, line);
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(`onLine threw: ${String(error)}`);
    }
  };

  get error(): Error | undefined {
    return this.failure;
  }
}

/**
 * The private directories steps make on a node (a script's home while it runs):
 * /tmp/firebreak-<32 hex>, and nothing else, so removing one can never be `rm -rf` of anything
 * else.
 */
const PRIVATE_DIR_RE = /^\/tmp\/firebreak-[0-9a-f]{32}$/;

export function assertPrivateDir(path: string): void {
  if (!PRIVATE_DIR_RE.test(path)) throw new Error(`not a Firebreak private directory: ${path}`);
}
