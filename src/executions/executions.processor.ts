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

/** What a drain did, for the service log (and tests). */
export interface DrainReport {
  /** Runs that ended on their own within the grace (whatever their outcome). */
  finished: number;
  /** Runs the worker interrupted when the grace ran out. */
  interrupted: number;
}

/**
 * The worker role's loop: consume the queue (each entry is an execution id for the runner),
 * pass cancel notices to the runner, and reap executions whose worker stopped reporting. On
 * start it enqueues again what is still queued (an in-process queue loses its entries on restart).
 * On shutdown it drains: takes no more work, gives running executions DRAIN_GRACE to finish,
 * then interrupts what is left itself, so no run is left `running` for another worker's reaper.
 */
@Injectable()
export class ExecutionsProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExecutionsProcessor.name);
  private reaper: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Runs handed to the runner and not yet settled. */
  private readonly inFlight = new Set<Promise<void>>();
  private draining: Promise<DrainReport> | undefined;

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
    this.queue.consume((id) => this.track(this.runner.run(id)), this.config.workerConcurrency);
    for (const id of await this.executions.queuedIds()) await this.queue.enqueue(id);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.reaper);
    if (this.config.role !== 'api') await this.drain();
    this.unsubscribe?.();
    await this.queue.close();
  }

  private track(run: Promise<void>): Promise<void> {
    this.inFlight.add(run);
    void run.then(
      () => this.inFlight.delete(run),
      () => this.inFlight.delete(run),
    );
    return run;
  }

  /**
   * Stop taking work; let running executions finish within DRAIN_GRACE (cancel notices still
   * reach them); then interrupt what is left (`worker shutting down: …`, results kept) and wait
   * until each has recorded how it ended. Logged; runs once however often it is called.
   */
  drain(): Promise<DrainReport> {
    this.draining ??= this.drainOnce();
    return this.draining;
  }

  private async drainOnce(): Promise<DrainReport> {
    await this.queue.stop();
    const graceMs = this.config.drainGraceSeconds * 1000;
    const seen = new Set(this.inFlight);
    if (!seen.size) {
      this.logger.log('drain: no executions running');
      return { finished: 0, interrupted: 0 };
    }
    this.logger.log(
      `drain: waiting up to ${this.config.drainGraceSeconds} s for ${seen.size} running execution(s)`,
    );
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    // Runs a late delivery started meanwhile count too.
    const settled = async (): Promise<true> => {
      while (this.inFlight.size) {
        for (const run of this.inFlight) seen.add(run);
        await Promise.allSettled([...this.inFlight]);
      }
      return true;
    };
    const inTime = await Promise.race([settled(), graceOver]);
    clearTimeout(timer);
    const before = this.runner.interruptedCount;
    if (!inTime) {
      this.runner.interruptAll(
        `worker shutting down: the drain grace of ${this.config.drainGraceSeconds} s ran out`,
      );
      await settled();
    }
    const interrupted = this.runner.interruptedCount - before;
    const report = { finished: seen.size - interrupted, interrupted };
    const line = `drain: ${report.finished} execution(s) finished within the grace, ${report.interrupted} interrupted`;
    if (interrupted) this.logger.warn(line);
    else this.logger.log(line);
    return report;
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
