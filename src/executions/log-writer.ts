import type { DataSource } from 'typeorm';
import type { ExecutionEvents } from './execution-events.js';
import { ExecutionLogEntity, type LogStream } from './execution-log.entity.js';

/** Masks every secret value wherever it appears in a line of output. */
export function maskLine(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) if (s) out = out.split(s).join('****');
  return out;
}

/**
 * Buffers an execution's output and writes it in batches (one multi-row INSERT plus a NOTIFY
 * in one transaction), so live viewers in any process see lines within ~100 ms and a line that
 * was acknowledged is never lost. Secure values are masked before anything is stored.
 */
export class ExecutionLogWriter {
  private buffer: ExecutionLogEntity[] = [];
  private seq: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: ExecutionEvents,
    private readonly executionId: string,
    startSeq: number,
    private readonly secrets: readonly string[],
    private readonly flushMs = 100,
    private readonly maxBatch = 500,
  ) {
    this.seq = startSeq;
  }

  write(node: string | null, step: string | null, stream: LogStream, line: string): void {
    this.buffer.push(
      Object.assign(new ExecutionLogEntity(), {
        executionId: this.executionId,
        seq: ++this.seq,
        at: new Date(),
        node,
        step,
        stream,
        line: maskLine(line, this.secrets),
      }),
    );
    if (this.buffer.length >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Writes what is buffered; resolves when it is committed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      await this.dataSource.transaction(async (m) => {
        await m.createQueryBuilder().insert().into(ExecutionLogEntity).values(batch).execute();
        await this.events.publish({ id: this.executionId, kind: 'logs' }, m);
      });
    });
    return this.flushing;
  }
}
