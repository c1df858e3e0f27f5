import { Logger } from '@nestjs/common';
import type { Queue } from 'bull';

export const EXECUTION_QUEUE = Symbol('EXECUTION_QUEUE');
export const BULL_QUEUE_NAME = 'executions';
const JOB = 'run';

/**
 * How execution ids travel from the process that starts them to the workers. The row in Postgres
 * is the truth; the queue carries only the id, and enqueuing the same id twice is a no-op.
 */
export interface ExecutionQueue {
  readonly kind: 'redis' | 'in-process';
  /**
   * `key` (default: the id) is what makes a second enqueue a no-op; a waiting execution is
   * dispatched again under another key (see concurrency.ts), as its first entry may still exist.
   */
  enqueue(executionId: string, key?: string): Promise<void>;
  /** Worker side: handle ids as they arrive, at most `concurrency` at once. */
  consume(handler: (executionId: string) => Promise<void>, concurrency: number): void;
  close(): Promise<void>;
}

/** Bull on Redis (REDIS_URL): job id = execution id, so a double enqueue is a no-op. */
export class BullExecutionQueue implements ExecutionQueue {
  readonly kind = 'redis' as const;

  /** Handlers in flight on this process, awaited by `close`. */
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly queue: Queue<{ executionId: string }>) {}

  async enqueue(executionId: string, key = executionId): Promise<void> {
    await this.queue.add(
      JOB,
      { executionId },
      { jobId: key, attempts: 1, removeOnComplete: true, removeOnFail: 1000 },
    );
  }

  consume(handler: (executionId: string) => Promise<void>, concurrency: number): void {
    void this.queue.process(JOB, concurrency, async (job) => {
      const run = handler(job.data.executionId);
      this.running.add(run);
      try {
        await run;
      } finally {
        this.running.delete(run);
      }
    });
  }

  /**
   * Waits for this process's running handlers, then closes without Bull's own wait: that one
   * forces a reconnect of the blocking client, which rejects unhandled ("Redis is already
   * connecting/connected") when Redis is down or already reconnecting at shutdown.
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await this.queue.close(true);
  }
}

/** No REDIS_URL: the same interface inside one process (ROLE=all). */
export class InProcessExecutionQueue implements ExecutionQueue {
  readonly kind = 'in-process' as const;
  private readonly logger = new Logger('InProcessQueue');
  private readonly waiting: Array<{ id: string; key: string }> = [];
  private readonly known = new Set<string>();
  private handler: ((id: string) => Promise<void>) | undefined;
  private concurrency = 1;
  private active = 0;
  private closed = false;
  private readonly running = new Set<Promise<void>>();

  async enqueue(executionId: string, key = executionId): Promise<void> {
    if (this.closed || this.known.has(key)) return;
    this.known.add(key);
    this.waiting.push({ id: executionId, key });
    this.pump();
  }

  consume(handler: (executionId: string) => Promise<void>, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.pump();
  }

  private pump(): void {
    while (this.handler && !this.closed && this.active < this.concurrency && this.waiting.length) {
      const { id, key } = this.waiting.shift()!;
      this.active++;
      const p = this.handler(id)
        .catch((err: unknown) => this.logger.error(`execution ${id}: ${(err as Error).message}`))
        .finally(() => {
          this.active--;
          this.known.delete(key);
          this.running.delete(p);
          this.pump();
        });
      this.running.add(p);
    }
  }

  /** Stops taking work and waits for what is running (which stops on its own cancel signal). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }
}
