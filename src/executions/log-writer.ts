import type { SecretMask } from './secret-mask.js';
import type { DataSource } from 'typeorm';
import { retryWhileUnreachable } from '../database/db-retry.js';
import type { ExecutionEvents, ExecutionNotice } from './execution-events.js';
import type { LogStream } from './execution-log.entity.js';
import type { Backpressure } from './transports/exec.js';

/** How much output one execution may store, and what happens past it. */
export interface LogLimit {
  /** stdout + stderr lines; undefined: no limit. */
  lines?: number;
  /** stdout + stderr UTF-8 bytes (a newline counts one); undefined: no limit. */
  bytes?: number;
  /** truncate: keep running, store no more output (a system line says so); fail: stop the run. */
  action: 'truncate' | 'fail';
}

export interface LogWriterOptions {
  /** A lone line waits at most this long for company before it is written (after the first). */
  flushMs?: number;
  /**
   * The first this many batches do not wait: an idle writer writes at the next turn of the
   * event loop (with whatever arrived in the same read), so a run's first lines reach live
   * viewers after one INSERT + NOTIFY; later lines wait up to `flushMs` and go in batches.
   * Nor do a step's first line and its first output line (a step that starts after a quiet
   * spell shows at once); the lines after them batch as before.
   */
  eagerBatches?: number;
  /** Rows per INSERT. */
  maxBatch?: number;
  /** Rows waiting to be written at which producers are asked to pause (see `Backpressure`). */
  highWater?: number;
  /** Rows kept at most while the database is away; more are counted and dropped. */
  maxBuffered?: number;
  /** The database may be unreachable this long before `onFatal` is called (writes go on). */
  outageLimitMs?: number;
  limit?: LogLimit;
  /**
   * Called once when the run cannot go on: the database stayed away past `outageLimitMs`, a
   * batch was refused, or the output limit was passed with action `fail`.
   */
  onFatal?: (error: Error) => void;
  /** For warnings (no line content, no secrets). */
  warn?: (message: string) => void;
}

/** What a writer did, for tests, metrics and the bench. */
export interface LogWriterStats {
  /** Rows committed. */
  stored: number;
  /** Times a producer was asked to pause (the queue reached `highWater`). */
  pauses: number;
  /** INSERTs retried because the database was unreachable. */
  retries: number;
  /** Lines dropped because the buffer was full while the database was away. */
  dropped: number;
  /** Output lines not stored because the output limit was reached. */
  truncated: number;
  /** Most rows waiting at once. */
  peakQueued: number;
  /** Batches (INSERTs) committed. */
  batches: number;
}

interface Row {
  seq: number;
  at: string;
  node: string | null;
  step: string | null;
  stream: LogStream;
  line: string;
}

/** A batch this small (lines, and bytes of its notice) is sent in its NOTIFY. */
const NOTICE_MAX_LINES = 50;
const NOTICE_MAX_BYTES = 7000;

// One parameterised statement per batch, whatever its size: arrays of columns, unnested (sent
// with its NOTIFY as one statement).
const INSERT_SQL = `INSERT INTO execution_logs (execution_id, seq, at, node, step, stream, line)
  SELECT $1::uuid, u.seq, u.at, u.node, u.step, u.stream, u.line
  FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS u(seq, at, node, step, stream, line)`;

/**
 * Buffers an execution's output and writes it in batches (one INSERT of unnested arrays and its
 * NOTIFY in one statement), one batch at a time so commit order is seq order; while a batch is
 * being written the next one gathers. A run's first lines are written at once (`eagerBatches`),
 * later ones within ~50 ms; live viewers in any process see them on the NOTIFY.
 * Secure values are masked before anything is stored or counted.
 *
 * - Backpressure: when `highWater` rows wait, `isFull()` says so and producers (the command's
 *   stdout/stderr) pause until `whenDrained` calls them back (at half of it).
 * - Database outage: a batch that fails because the database is unreachable is retried with
 *   backoff, its rows and the ones behind it kept (bounded by `maxBuffered`; producers are
 *   paused long before); past `outageLimitMs` `onFatal` is told, and writing still goes on so the
 *   lines are stored once the database is back. Any other error stops writing and is kept in
 *   `error`. Nothing here rejects unhandled: `flush()` always resolves.
 * - Output limit: past `limit.lines`/`limit.bytes` output lines are counted, not stored, after
 *   one system line that says so (and with action `fail`, `onFatal` is told).
 */
export class ExecutionLogWriter implements Backpressure {
  readonly stats: LogWriterStats = {
    stored: 0,
    pauses: 0,
    retries: 0,
    dropped: 0,
    truncated: 0,
    peakQueued: 0,
    batches: 0,
  };
  /** Steps that have had a (system / output) line: a step's first of each does not wait. */
  private readonly steps = new Set<string>();
  /** The scheduled start is at the next turn of the event loop (not after `flushMs`). */
  private scheduledNow = false;
  private queue: Row[] = [];
  private atMs = 0;
  private atIso = '';
  private seq: number;
  /** Cancels the pending start of the write loop, if one is scheduled. */
  private scheduled: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private drainWaiters: Array<() => void> = [];
  private outputLines = 0;
  private outputBytes = 0;
  private limitReached = false;
  private droppedSinceNotice = 0;
  private fatalSent = false;
  private failure: Error | undefined;
  private readonly flushMs: number;
  private eagerBatches: number;
  private readonly maxBatch: number;
  private readonly highWater: number;
  private readonly maxBuffered: number;
  private readonly outageLimitMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: ExecutionEvents,
    private readonly executionId: string,
    startSeq: number,
    private readonly secrets: SecretMask,
    private readonly opts: LogWriterOptions = {},
  ) {
    this.seq = startSeq;
    this.flushMs = opts.flushMs ?? 50;
    this.eagerBatches = opts.eagerBatches ?? 3;
    this.maxBatch = opts.maxBatch ?? 5000;
    this.highWater = opts.highWater ?? 10_000;
    this.maxBuffered = Math.max(opts.maxBuffered ?? 100_000, this.highWater * 2);
    this.outageLimitMs = opts.outageLimitMs ?? 300_000;
  }

  /** The error that stopped writing (a batch the database refused), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  write(node: string | null, step: string | null, stream: LogStream, line: string): void {
    if (this.failure) return;
    // Postgres text cannot hold NUL: it becomes U+FFFD rather than failing the batch.
    const clean = line.includes('\0') ? line.replaceAll('\0', '\uFFFD') : line;
    const masked = this.secrets.mask(clean);
    if (stream !== 'system' && this.opts.limit && !this.withinLimit(node, step, masked)) return;
    if (this.queue.length >= this.maxBuffered) {
      this.stats.dropped++;
      this.droppedSinceNotice++;
      return;
    }
    if (this.droppedSinceNotice > 0) {
      const n = this.droppedSinceNotice;
      this.droppedSinceNotice = 0;
      this.push(null, null, 'system', `${n} line(s) of output were lost: the buffer was full`);
    }
    this.push(node, step, stream, masked);
  }

  /** Backpressure: producers should pause while this is true. */
  isFull(): boolean {
    return this.queue.length >= this.highWater;
  }

  /** Backpressure: `fn` runs once, when the queue has drained to half of `highWater`. */
  whenDrained(fn: () => void): void {
    this.stats.pauses++;
    if (!this.isFull() || this.failure) queueMicrotask(fn);
    else this.drainWaiters.push(fn);
  }

  /** Writes what is buffered; resolves when it is committed (or writing stopped: see `error`). */
  flush(): Promise<void> {
    this.startLoop();
    return this.loop ?? Promise.resolve();
  }

  private push(node: string | null, step: string | null, stream: LogStream, line: string): void {
    // A flood reads thousands of lines per millisecond: one ISO string per millisecond.
    const now = Date.now();
    if (now !== this.atMs) {
      this.atMs = now;
      this.atIso = new Date(now).toISOString();
    }
    this.queue.push({ seq: ++this.seq, at: this.atIso, node, step, stream, line });
    if (this.queue.length > this.stats.peakQueued) this.stats.peakQueued = this.queue.length;
    // The step's first line (its `$ command`) and its first output line.
    const key = step === null ? null : `${stream === 'system' ? 's' : 'o'}:${step}`;
    const firstOfStep = key !== null && !this.steps.has(key);
    if (firstOfStep) this.steps.add(key);
    if (this.loop) return; // the running loop takes it with the next batch
    if (this.queue.length >= this.maxBatch) this.startLoop();
    else if (firstOfStep && !this.scheduledNow) {
      this.scheduled?.();
      this.scheduled = this.scheduleNow();
    } else this.scheduled ??= this.schedule();
  }

  private withinLimit(node: string | null, step: string | null, line: string): boolean {
    const limit = this.opts.limit!;
    if (this.limitReached) {
      this.stats.truncated++;
      return false;
    }
    this.outputLines++;
    this.outputBytes += Buffer.byteLength(line, 'utf8') + 1;
    const overLines = limit.lines !== undefined && this.outputLines > limit.lines;
    const overBytes = limit.bytes !== undefined && this.outputBytes > limit.bytes;
    if (!overLines && !overBytes) return true;
    this.limitReached = true;
    this.stats.truncated++;
    const what = overLines ? `${limit.lines} lines` : `${limit.bytes} bytes`;
    const message =
      limit.action === 'fail'
        ? `output limit of ${what} reached: the run is stopped`
        : `output limit of ${what} reached: further output is not stored`;
    this.push(node, step, 'system', message);
    if (limit.action === 'fail') this.fatal(new Error(`output limit of ${what} reached`));
    return false;
  }

  private fatal(error: Error): void {
    if (this.fatalSent) return;
    this.fatalSent = true;
    this.opts.onFatal?.(error);
  }

  private schedule(): () => void {
    if (this.eagerBatches > 0) this.eagerBatches--;
    else if (this.flushMs > 0) {
      this.scheduledNow = false;
      const timer = setTimeout(() => this.startLoop(), this.flushMs);
      return () => clearTimeout(timer);
    }
    return this.scheduleNow();
  }

  private scheduleNow(): () => void {
    this.scheduledNow = true;
    const immediate = setImmediate(() => this.startLoop());
    return () => clearImmediate(immediate);
  }

  private startLoop(): void {
    this.scheduled?.();
    this.scheduled = undefined;
    this.scheduledNow = false;
    if (this.loop || this.queue.length === 0 || this.failure) return;
    this.loop = this.drain().finally(() => {
      this.loop = undefined;
      if (this.queue.length && !this.failure) this.startLoop();
    });
  }

  /** Writes batches until the queue is empty; never rejects. */
  private async drain(): Promise<void> {
    let away: number | undefined;
    while (this.queue.length && !this.failure) {
      const batch = this.queue.slice(0, this.maxBatch);
      try {
        await retryWhileUnreachable(() => this.insert(batch), {
          limitMs: Infinity,
          initialDelayMs: 100,
          maxDelayMs: 5000,
          onRetry: (error, delay) => {
            this.stats.retries++;
            away ??= Date.now();
            if (this.stats.retries === 1 || this.stats.retries % 20 === 0)
              this.opts.warn?.(
                `execution ${this.executionId}: writing output failed (${(error as Error).message}); ${this.queue.length} line(s) kept, retrying in ${delay} ms`,
              );
            if (Date.now() - away >= this.outageLimitMs)
              this.fatal(
                new Error(
                  `the database was unreachable for more than ${Math.round(this.outageLimitMs / 1000)} s`,
                ),
              );
          },
        });
      } catch (error) {
        // Not a connection problem: the database refused the batch. Stop writing, keep the error.
        this.failure = error instanceof Error ? error : new Error(String(error));
        this.opts.warn?.(
          `execution ${this.executionId}: output could not be stored: ${this.failure.message}`,
        );
        this.queue = [];
        this.fatal(new Error(`output could not be stored: ${this.failure.message}`));
        this.wakeProducers();
        return;
      }
      away = undefined;
      this.queue.splice(0, batch.length);
      this.stats.stored += batch.length;
      this.stats.batches++;
      if (this.queue.length <= this.highWater / 2) this.wakeProducers();
    }
  }

  private wakeProducers(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of waiters) fn();
  }

  private async insert(batch: Row[]): Promise<void> {
    const n = batch.length;
    const seq = new Array<number>(n);
    const at = new Array<string>(n);
    const node = new Array<string | null>(n);
    const step = new Array<string | null>(n);
    const stream = new Array<string>(n);
    const line = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const r = batch[i];
      seq[i] = r.seq;
      at[i] = r.at;
      node[i] = r.node;
      step[i] = r.step;
      stream[i] = r.stream;
      line[i] = r.line;
    }
    // One statement, so one round trip: the rows and their notice commit together.
    const params: unknown[] = [this.executionId, seq, at, node, step, stream, line];
    // A small batch rides in its notice (Postgres takes payloads up to 8,000 bytes), so live
    // viewers show it without reading it back.
    let notice: ExecutionNotice = { id: this.executionId, kind: 'logs' };
    if (n <= NOTICE_MAX_LINES) {
      const withLines: ExecutionNotice = { ...notice, from: batch[0].seq - 1, lines: batch };
      if (Buffer.byteLength(JSON.stringify(withLines), 'utf8') <= NOTICE_MAX_BYTES)
        notice = withLines;
    }
    const sql = this.events.noticeSql(notice, (v) => `$${params.push(v)}`);
    await this.dataSource.query(`WITH stored AS (${INSERT_SQL}) SELECT ${sql}`, params);
  }
}
