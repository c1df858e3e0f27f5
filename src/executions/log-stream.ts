import type { Request, Response } from 'express';
import type { DataSource } from 'typeorm';
import { retryWhileUnreachable } from '../database/db-retry.js';
import type { ExecutionEvents, ExecutionNotice } from './execution-events.js';
import type { ExecutionLogEntity } from './execution-log.entity.js';
import { openEventStream } from '../common/sse.js';

export type LogRow = Pick<ExecutionLogEntity, 'seq' | 'at' | 'node' | 'step' | 'stream' | 'line'>;

/** One log line as the stream (and the `logs` batch event) sends it. */
export interface LogEvent {
  seq: number;
  at: string;
  node: string | null;
  step: string | null;
  stream: string;
  line: string;
}

export function toLogEvent(r: LogRow): LogEvent {
  return {
    seq: r.seq,
    at: r.at instanceof Date ? r.at.toISOString() : String(r.at),
    node: r.node,
    step: r.step,
    stream: r.stream,
    line: r.line,
  };
}

/**
 * The wire format a viewer asked for:
 * - `line` (the default, what old clients read): one `log` event per line, `id:` its seq.
 * - `batch` (`?format=batch`, version 1): one `logs` event per page of lines, `id:` the last
 *   line's seq, `data: {"v":1,"lines":[LogEvent, …]}`. Same lines, same order, far fewer bytes
 *   and events.
 * - `compact` (`?format=compact`, version 2; the CLI reads it): the same `logs` events with the
 *   page in columns, `data: {"v":2,"runs":[[seq, n, at, node, step, stream], …],"lines":[…]}`:
 *   each run is n lines with seqs seq … seq + n − 1 that share `at`, node, step and stream, and
 *   `lines` holds every line's text in order (run after run). A flood sends ≈ 10× fewer bytes
 *   than `batch` (a line's fields once per run, ≈ 40 runs a page), and a viewer parses them.
 * All end with one `end` event `{status, error}`.
 */
export type LogFormat = 'line' | 'batch' | 'compact';

export const LOG_FORMATS: readonly LogFormat[] = ['line', 'batch', 'compact'];

/** A `compact` page's run: first seq, count, then the fields its lines share. */
export type CompactRun = [
  seq: number,
  n: number,
  at: string,
  node: string | null,
  step: string | null,
  stream: string,
];

/** The `data` of a `compact` page (see LogFormat). */
export interface CompactPage {
  v: 2;
  runs: CompactRun[];
  lines: string[];
}

export function toCompact(events: readonly LogEvent[]): CompactPage {
  const runs: CompactRun[] = [];
  const lines = new Array<string>(events.length);
  let run: CompactRun | undefined;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    lines[i] = e.line;
    if (
      run &&
      e.seq === run[0] + run[1] &&
      e.at === run[2] &&
      e.node === run[3] &&
      e.step === run[4] &&
      e.stream === run[5]
    )
      run[1]++;
    else runs.push((run = [e.seq, 1, e.at, e.node, e.step, e.stream]));
  }
  return { v: 2, runs, lines };
}

/** Rows per read (and at most per chunk). */
const PAGE = 2000;
/**
 * Chunks kept per execution for viewers a little behind (each ≤ PAGE rows, ≈0.7 MB in a flood:
 * ≈17 MB at most, ≈1 s of a flood). A viewer further behind than this reads on its own, which
 * costs a read and a serialisation per viewer and page: with 4 (0.17 s of a flood) 20 viewers
 * fell off the shared chain at the first hiccup and each then paid its own way (the lag grew).
 */
const KEPT_CHUNKS = 24;
/** A viewer with nothing new re-reads at least this often (a missed NOTIFY costs this much). */
const SAFETY_POLL_MS = 5000;

/**
 * The lines after `from` up to `to`, read once and serialised once per format however many
 * viewers send them: every viewer writes the same Buffer.
 */
interface Chunk {
  from: number;
  to: number;
  rows: LogRow[] | LogEvent[];
  texts: Partial<Record<LogFormat, Buffer>>;
}

function chunkText(c: Chunk, format: LogFormat): Buffer {
  let b = c.texts[format];
  if (!b) {
    const events = (c.rows as Array<LogRow | LogEvent>).map((r) =>
      typeof r.at === 'string' ? (r as LogEvent) : toLogEvent(r as LogRow),
    );
    const text =
      format === 'batch'
        ? `event: logs\nid: ${c.to}\ndata: ${JSON.stringify({ v: 1, lines: events })}\n\n`
        : format === 'compact'
          ? `event: logs\nid: ${c.to}\ndata: ${JSON.stringify(toCompact(events))}\n\n`
          : events.map((e) => `event: log\nid: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join('');
    b = c.texts[format] = Buffer.from(text, 'utf8');
    // Every format built: the rows are not needed.
    if (LOG_FORMATS.every((f) => c.texts[f])) c.rows = [];
  }
  return b;
}

export interface LogStreamDeps {
  dataSource: DataSource;
  events: ExecutionEvents;
  /** The final status once the execution has ended, else null. */
  finalStatus: (id: string) => Promise<{ status: string; error: string | null } | null>;
  outageLimitMs: number;
}

/**
 * Every live viewer of one execution in this process, served from one tail: one NOTIFY
 * subscription, each page read from the database once (viewers at the same cursor share the
 * read, the ones that follow find it kept) and serialised once per format into a Buffer that
 * every viewer writes. Pages chain: a chunk starts where the one before ended, and a viewer
 * that has to read on its own (it resumed mid-page, or fell behind the kept chunks) reads only
 * up to the next kept chunk's start, so it joins the shared chain.
 *
 * Correctness does not depend on notices: the cursor (a line's seq, committed in seq order by
 * the execution's one log writer) is the truth; a notice only says "read now", and a missed one
 * costs at most SAFETY_POLL_MS.
 */
/** One response being fed; `interrupt` ends whatever it waits for (it closed). */
interface Viewer {
  closed: boolean;
  interrupt?: () => void;
}

class LogHub {
  readonly viewers = new Set<Viewer>();
  private readonly chunks = new Map<number, Chunk>();
  private readonly order: number[] = [];
  private readonly reads = new Map<number, Promise<Chunk | null>>();
  private ending: Promise<{ status: string; error: string | null } | null> | undefined;
  private endingAt = -1;
  /** Bumped by every notice; a viewer that saw nothing new waits for it to move. */
  generation = 0;
  private waiters = new Set<() => void>();
  private unsubscribe: Promise<() => void> | undefined;

  constructor(
    private readonly id: string,
    private readonly deps: LogStreamDeps,
    private readonly stats: { pageReads: number },
  ) {}

  open(): void {
    this.unsubscribe ??= this.deps.events.subscribe(this.id, (n) => this.notice(n));
  }

  close(): void {
    void this.unsubscribe?.then((u) => u());
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private notice(n: ExecutionNotice): void {
    if (n.kind === 'logs' && n.lines && n.from !== undefined && n.lines.length > 0)
      this.keep({
        from: n.from,
        to: n.lines[n.lines.length - 1].seq,
        rows: n.lines,
        texts: {},
      });
    if (n.kind !== 'logs' && n.kind !== 'status') return;
    this.generation++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  /**
   * Resolves once a notice came after `generation` (at once if one did), after the safety
   * poll, or when `v` closes.
   */
  wait(generation: number, v: Viewer): Promise<void> {
    if (generation !== this.generation) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, SAFETY_POLL_MS);
      const waiters = this.waiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        v.interrupt = undefined;
        resolve();
      }
      waiters.add(done);
      v.interrupt = done;
    });
  }

  private durable<T>(fn: () => Promise<T>): Promise<T> {
    // A database restart does not end a viewer's stream: reads wait it out (the LISTEN
    // connection comes back by itself and wakes the stream).
    return retryWhileUnreachable(fn, { limitMs: this.deps.outageLimitMs, maxDelayMs: 2000 });
  }

  private keep(c: Chunk): void {
    if (this.chunks.has(c.from)) return;
    this.chunks.set(c.from, c);
    this.order.push(c.from);
    while (this.order.length > KEPT_CHUNKS) this.chunks.delete(this.order.shift()!);
  }

  /** The lines right after `cursor` (null: none yet), one read for everyone asking at once. */
  next(cursor: number): Promise<Chunk | null> {
    const kept = this.chunks.get(cursor);
    if (kept) return Promise.resolve(kept);
    let read = this.reads.get(cursor);
    if (!read) {
      // Read up to the next kept chunk, so this viewer joins the shared chain there.
      let upTo = Infinity;
      for (const from of this.chunks.keys()) if (from > cursor && from < upTo) upTo = from;
      this.stats.pageReads++;
      read = this.durable(() =>
        // `at` formatted by Postgres as toISOString() would (no Date parsed, none formatted).
        this.deps.dataSource.query<LogEvent[]>(
          `SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                  node, step, stream, line FROM execution_logs
            WHERE execution_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
          [this.id, cursor, Number.isFinite(upTo) ? upTo : 2 ** 31 - 1, PAGE],
        ),
      ).then((rows) => {
        if (rows.length === 0) return null;
        const c: Chunk = { from: cursor, to: rows[rows.length - 1].seq, rows, texts: {} };
        this.keep(c);
        return c;
      });
      this.reads.set(cursor, read);
      const forget = () => this.reads.delete(cursor);
      read.then(forget, forget);
    }
    return read;
  }

  /** The `end` event's data once the run is final and no line follows `cursor`, else null. */
  ended(cursor: number): Promise<{ status: string; error: string | null } | null> {
    if (this.ending && this.endingAt === cursor) return this.ending;
    this.endingAt = cursor;
    const p = (async () => {
      const e = await this.durable(() => this.deps.finalStatus(this.id));
      if (!e) return null;
      // A line written between the last read and the status check comes first.
      const [more] = await this.durable(() =>
        this.deps.dataSource.query<unknown[]>(
          'SELECT 1 FROM execution_logs WHERE execution_id = $1 AND seq > $2 LIMIT 1',
          [this.id, cursor],
        ),
      );
      return more ? null : e;
    })();
    this.ending = p;
    const forget = () => {
      if (this.ending === p) this.ending = undefined;
    };
    // A null answer is only good for this moment; a final one stays.
    p.then((r) => (r ? undefined : forget()), forget);
    return p;
  }
}

/**
 * The live log streams of this process (see LogHub): `serve` writes an execution's output to
 * one SSE response, from `after` on, ending with the final status.
 *
 * Flow control: a viewer is fed one chunk at a time; when `res.write` returns false (its socket
 * buffer is full) it is not fed again until 'drain', then resumes from its cursor, from the
 * kept chunks or the database. A slow viewer so costs at most the chunk in its socket buffer
 * (a Buffer shared with the other viewers), never a growing queue, and still gets every line.
 */
export class LogStreams {
  private readonly hubs = new Map<string, LogHub>();
  /**
   * Most bytes any viewer's response held unsent (its socket would not take them), and pages
   * read from the database (a page read once for all viewers counts once).
   */
  readonly stats = { peakUnreadBytes: 0, pageReads: 0 };

  constructor(private readonly deps: LogStreamDeps) {}

  /** Viewers now attached (all executions), for tests and metrics. */
  get viewers(): number {
    let n = 0;
    for (const h of this.hubs.values()) n += h.viewers.size;
    return n;
  }

  serve(req: Request, res: Response, id: string, after: number, format: LogFormat): void {
    openEventStream(req, res);
    let hub = this.hubs.get(id);
    if (!hub) {
      hub = new LogHub(id, this.deps, this.stats);
      this.hubs.set(id, hub);
    }
    const h = hub;
    const me: Viewer = { closed: false };
    h.viewers.add(me);
    h.open();
    const leave = () => {
      if (me.closed) return;
      me.closed = true;
      me.interrupt?.();
      h.viewers.delete(me);
      if (h.viewers.size === 0 && this.hubs.get(id) === h) {
        this.hubs.delete(id);
        h.close();
      }
    };
    res.on('close', leave);
    const drained = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          me.interrupt = undefined;
          resolve();
        };
        res.on('drain', done);
        me.interrupt = done;
      });
    const run = async () => {
      let cursor = after;
      while (!me.closed) {
        const generation = h.generation;
        const chunk = await h.next(cursor);
        if (me.closed) return;
        if (chunk) {
          cursor = chunk.to;
          const ok = res.write(chunkText(chunk, format));
          if (res.writableLength > this.stats.peakUnreadBytes)
            this.stats.peakUnreadBytes = res.writableLength;
          if (!ok) await drained();
          continue;
        }
        // A notice came during the read (it may carry the very lines the read missed): take it
        // before asking whether the run has ended.
        if (h.generation !== generation) continue;
        const end = await h.ended(cursor);
        if (me.closed) return;
        if (end) {
          res.end(
            `event: end\ndata: ${JSON.stringify({ status: end.status, error: end.error })}\n\n`,
          );
          return;
        }
        await h.wait(generation, me);
      }
    };
    run().then(leave, () => {
      // The database stayed away past the outage limit: end the stream; the client resumes.
      if (!res.writableEnded) res.end();
      leave();
    });
  }
}
