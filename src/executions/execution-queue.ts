import { Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { DomainException } from '../common/errors.js';
import type { QueueHealth } from '../observability/queue-health.js';

export const EXECUTION_QUEUE = Symbol('EXECUTION_QUEUE');
export const BULL_QUEUE_NAME = 'executions';
const JOB = 'run';
/** How long an enqueue may take before the queue counts as unavailable. */
const ENQUEUE_TIMEOUT_MS = 3000;
/** How long `stop` waits for Bull's blocking client to reconnect (the pause holds anyway). */
const STOP_WAIT_MS = 2000;

/** 503: the queue cannot take an execution now (Redis down); the caller may try again. */
export class QueueUnavailable extends DomainException {
  constructor(reason: string) {
    super(
      'UNAVAILABLE',
      `the execution queue is unavailable (${reason}); try again shortly`,
      {
        queue: reason,
      },
      { 'Retry-After': '5' },
    );
  }
}

/**
 * How execution ids travel from the process that starts them to the workers. The row in Postgres
 * is the truth; the queue carries only the id, and enqueuing the same id twice is a no-op.
 */
export interface ExecutionQueue extends QueueHealth {
  readonly kind: 'redis' | 'in-process';
  /**
   * Fails fast with `QueueUnavailable` when the queue cannot take it (never hangs). `key`
   * (default: the id) is what makes a second enqueue a no-op; a waiting execution is dispatched
   * again under another key (see concurrency.ts), as its first entry may still exist.
   */
  enqueue(executionId: string, key?: string): Promise<void>;
  /** Worker side: handle ids as they arrive, at most `concurrency` at once. */
  consume(handler: (executionId: string) => Promise<void>, concurrency: number): void;
  /** Worker side: take no more ids (what is running goes on); the drain's first move. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Bull on Redis (REDIS_URL): job id = execution id, so a double enqueue is a no-op. */
export class BullExecutionQueue implements ExecutionQueue {
  readonly kind = 'redis' as const;

  /** Handlers in flight on this process, awaited by `close`. */
  private readonly running = new Set<Promise<void>>();

  private readonly logger = new Logger('ExecutionQueue');

  constructor(private readonly queue: Queue<{ executionId: string }>) {}

  /**
   * Why the queue cannot take a job now, from the state of Bull's Redis connection; undefined
   * when it is connected. Checked before anything is written, so a start never waits in Bull's
   * offline queue for as long as Redis is away.
   */
  unavailable(): string | undefined {
    const status = this.queue.client.status;
    return status === 'ready' ? undefined : `Redis connection is ${status}`;
  }

  /**
   * Adds the job, or throws `QueueUnavailable` at once when Redis is not connected, or after
   * ENQUEUE_TIMEOUT_MS when it does not answer. A command given up on here may still reach Redis
   * later (the offline queue); the caller makes sure the execution cannot run then (a job whose
   * row is not `queued` is a no-op for the worker).
   */
  async enqueue(executionId: string, key = executionId): Promise<void> {
    const reason = this.unavailable();
    if (reason) throw new QueueUnavailable(reason);
    let timer: NodeJS.Timeout | undefined;
    const added = this.queue.add(
      JOB,
      { executionId },
      { jobId: key, attempts: 1, removeOnComplete: true, removeOnFail: 1000 },
    );
    added.catch(() => undefined); // its failure is reported through the race below
    try {
      await Promise.race([
        added,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new QueueUnavailable(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)),
            ENQUEUE_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof QueueUnavailable) throw err;
      throw new QueueUnavailable((err as Error).message);
    } finally {
      clearTimeout(timer);
    }
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
   * Local pause: this process takes no more jobs (others' workers still do); the blocking read
   * is aborted so a job arriving now is left to them. Never rejects (Redis may be down).
   */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const paused = this.queue.pause(true, true);
    try {
      // The local pause flag is set at once; reconnecting the blocking client may hang while
      // Redis is away, and a drain must not wait for it.
      await Promise.race([
        paused,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
      ]);
    } catch (err) {
      this.logger.warn(`pausing the queue: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    paused.catch(() => undefined);
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

  unavailable(): string | undefined {
    return undefined;
  }

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

  /** Takes no more ids; those waiting stay `queued` in Postgres for the next start. */
  async stop(): Promise<void> {
    this.closed = true;
  }

  /** Stops taking work and waits for what is running (which stops on its own cancel signal). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }
}
