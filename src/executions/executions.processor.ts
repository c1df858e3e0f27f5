import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ExecutionEvents } from './execution-events.js';
import { EXECUTION_QUEUE, type ExecutionQueue } from './execution-queue.js';
import { ExecutionRepository } from './execution.repository.js';
import { ExecutionRunner } from './execution.runner.js';

/**
 * The worker role's loop: consume the queue (each entry is an execution id for the runner),
 * pass cancel notices to the runner, and reap executions whose worker stopped reporting. On
 * start it enqueues again what is still queued (an in-process queue loses its entries on restart).
 */
@Injectable()
export class ExecutionsProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionsProcessor.name);
  private reaper: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EXECUTION_QUEUE) private readonly queue: ExecutionQueue,
    private readonly executions: ExecutionRepository,
    private readonly events: ExecutionEvents,
    private readonly runner: ExecutionRunner,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'api') return;
    this.unsubscribe = await this.events.subscribe('*', (n) => {
      if (n.kind === 'cancel') this.runner.cancelLocal(n.id);
    });
    await this.reap();
    this.reaper = setInterval(
      // Never rejects: a database outage must not take the worker down with it.
      () => void this.reap().catch((err: Error) => this.logger.warn(`reap failed: ${err.message}`)),
      (this.config.heartbeatTimeoutSeconds * 1000) / 2,
    );
    this.reaper.unref();
    this.queue.consume((id) => this.runner.run(id), this.config.workerConcurrency);
    for (const id of await this.executions.queuedIds()) await this.queue.enqueue(id);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.reaper);
    this.unsubscribe?.();
    await this.queue.close();
  }

  /**
   * Running executions whose worker stopped reporting are interrupted, never left running. Not
   * this worker's own: they are alive, only their heartbeat may have missed a database outage.
   */
  reap(): Promise<number> {
    this.reapLocalLeftovers();
    return this.executions.interruptStale(
      new Date(Date.now() - this.config.heartbeatTimeoutSeconds * 1000),
      this.runner.activeIds(),
    );
  }

  /** Local processes a dead worker on this host left running are killed (never throws). */
  private reapLocalLeftovers(): void {
    try {
      this.runner.reapLocalLeftovers();
    } catch (err) {
      this.logger.warn(`local leftover cleanup failed: ${(err as Error).message}`);
    }
  }
}
