import { randomUUID } from 'node:crypto';

import type { DataSource } from 'typeorm';

import { ExecutionResultEntity, type StepStatus } from './execution-result.entity.js';

type Outcome = {
  status: StepStatus;
  exitCode: number | null;
  error: string | null;
  attempt: number;
};

/** Columns a finished step changes on a row that may already be stored as `running`. */
const OUTCOME_COLUMNS = ['status', 'exit_code', 'error', 'attempt', 'finished_at', 'duration_ms'];

/**
 * One execution's result rows (a row per step and node), written in batches: a step that starts
 * or ends is queued and written with the others of the next `flushMs` (or at once past
 * `maxBatch`) as one multi-row upsert, instead of two statements per node — with 1000 nodes,
 * those round trips were a large share of a fan-out's time. Rows are ids made here, so a start
 * and its end in one batch are one INSERT. Batches are written in order, one at a time. A write
 * that fails is reported by the next call and by `flush`, which the runner awaits before the
 * execution's final status, so the stored results are complete when a run is seen as finished.
 */
export class ExecutionResultWriter {
  private pending = new Map<string, ExecutionResultEntity>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  private readonly retry: (write: () => Promise<unknown>) => Promise<unknown>;
  private readonly flushMs: number;
  private readonly maxBatch: number;

  /**
   * `retry` wraps each batch's write (the runner's retries with backoff while the database is
   * unreachable, up to the outage limit); a write it gives up on fails the writer.
   */
  constructor(
    private readonly dataSource: DataSource,
    opts: {
      retry?: (write: () => Promise<unknown>) => Promise<unknown>;
      flushMs?: number;
      maxBatch?: number;
    } = {},
  ) {
    this.retry = opts.retry ?? ((write) => write());
    this.flushMs = opts.flushMs ?? 50;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  /** A step started on a node (node null: once on the Firebreak host); returns its row. */
  async startStep(
    executionId: string,
    step: string,
    node: string | null,
  ): Promise<ExecutionResultEntity> {
    this.throwIfFailed();
    const row = Object.assign(new ExecutionResultEntity(), {
      id: randomUUID(),
      executionId,
      step,
      node,
      status: 'running' as const,
      exitCode: null,
      attempt: 1,
      error: null,
      startedAt: new Date(),
      finishedAt: null,
      durationMs: null,
    });
    this.queue(row);
    return row;
  }

  /** How that step ended on that node (`result`: the row `startStep` returned). */
  async finishStep(result: ExecutionResultEntity, outcome: Outcome): Promise<void> {
    this.throwIfFailed();
    const finishedAt = new Date();
    Object.assign(result, outcome, {
      finishedAt,
      durationMs: finishedAt.getTime() - result.startedAt.getTime(),
    });
    this.queue(result);
  }

  /** Writes everything queued; resolves once it is committed, rejects if any write failed. */
  async flush(): Promise<void> {
    this.write();
    await this.flushing;
    this.throwIfFailed();
  }

  private queue(row: ExecutionResultEntity): void {
    this.pending.set(row.id, row);
    if (this.pending.size >= this.maxBatch) this.write();
    else this.timer ??= setTimeout(() => this.write(), this.flushMs);
  }

  private write(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    // A snapshot: a row changed after this point is queued again for the next batch.
    const batch = [...this.pending.values()].map((row) => ({ ...row }));
    this.pending = new Map();
    this.flushing = this.flushing.then(async () => {
      if (this.failure) return;
      try {
        await this.retry(() =>
          this.dataSource
            .createQueryBuilder()
            .insert()
            .into(ExecutionResultEntity)
            .values(batch)
            .orUpdate(OUTCOME_COLUMNS, ['id'])
            .updateEntity(false)
            .execute(),
        );
      } catch (error) {
        this.failure = new Error(`storing step results failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
