import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { HostKeysService } from '../nodes/host-keys.service.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { durationMs } from '../runbooks/runbook.schema.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { ExecutionEvents } from './execution-events.js';
import { ExecutionRepository } from './execution.repository.js';
import type { RunOutcome } from './execution-state.js';
import { ExecutionLogWriter } from './log-writer.js';
import { ExecutionResultWriter } from './result-writer.js';
import { openOptions } from './secret-options.js';
import { Semaphore } from './semaphore.js';
import { runLocal } from './transports/local.transport.js';
import { SshSessionPool } from './transports/ssh-sessions.js';
import { Aborted, runWorkflow, type StepTransport } from './workflow.js';

const HEARTBEAT_MS = 5000;

/**
 * The worker side of one execution: claims the row, runs the pinned version's workflow with its
 * secure options opened, streams output to the log, beats a heartbeat (which also notices a
 * cancel), enforces the runbook's timeout, and reports how it ended. Every status write goes
 * through `ExecutionRepository`.
 */
@Injectable()
export class ExecutionRunner implements OnModuleDestroy {
  private readonly logger = new Logger(ExecutionRunner.name);
  private readonly workerId = `${hostname()}:${process.pid}`;
  /** SSH commands in flight across every execution on this worker. */
  private readonly sshSlots: Semaphore;
  private readonly active = new Map<string, AbortController>();
  private readonly optionsKey: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly executions: ExecutionRepository,
    private readonly events: ExecutionEvents,
    private readonly runbooks: RunbooksService,
    private readonly nodes: NodeTargetsService,
    private readonly hostKeys: HostKeysService,
  ) {
    this.sshSlots = new Semaphore(config.sshMaxParallel);
    this.optionsKey = deriveKey(config.secretKey, 'execution-options');
  }

  /** Asks a running execution on this worker to stop (from a NOTIFY or the heartbeat). */
  cancelLocal(executionId: string): void {
    this.active.get(executionId)?.abort(new Aborted('canceled'));
  }

  async onModuleDestroy(): Promise<void> {
    for (const ctrl of this.active.values()) ctrl.abort(new Aborted('canceled'));
  }

  async run(executionId: string): Promise<void> {
    const execution = await this.executions.claim(executionId, this.workerId);
    if (!execution) return; // already claimed, finished or canceled: a double delivery is a no-op
    const abort = new AbortController();
    this.active.set(execution.id, abort);
    const def = (await this.runbooks.versionForRun(execution.versionId)).definition;
    const secrets = execution.secretOptions
      ? openOptions(execution.secretOptions, this.optionsKey, execution.id)
      : {};
    const log = new ExecutionLogWriter(
      this.dataSource,
      this.events,
      execution.id,
      0,
      Object.values(secrets),
    );
    const write = log.write.bind(log);
    const results = new ExecutionResultWriter(this.dataSource);
    const heartbeat = setInterval(() => void this.beat(execution.id, abort), HEARTBEAT_MS);
    const timeout = def.timeout
      ? setTimeout(() => abort.abort(new Aborted('timed_out')), durationMs(def.timeout))
      : undefined;
    const sessions = new SshSessionPool(
      {
        connectionTarget: (id) => this.nodes.connectionTarget(id),
        learnHostKey: (...a) => this.hostKeys.learnHostKey(...a),
        reportHostKeyMismatch: (...a) => this.hostKeys.reportHostKeyMismatch(...a),
      },
      { actorId: execution.actorId, actorName: execution.actorName },
      (node, line) => write(node, null, 'system', line),
    );
    let status: RunOutcome = 'succeeded';
    let error: string | null = null;
    const started = Date.now();
    try {
      write(
        null,
        null,
        'system',
        `started ${def.name} v${execution.runbookVersion} on ${execution.targets.length} node(s) by ${execution.actorName}`,
      );
      const ok = await runWorkflow({
        def,
        execution,
        options: { ...execution.options, ...secrets },
        secure: new Set(Object.keys(secrets)),
        log: write,
        signal: abort.signal,
        transport: this.transport(sessions),
        results,
      });
      if (!ok) {
        status = 'failed';
        error = 'one or more steps failed';
      }
    } catch (err) {
      if (err instanceof Aborted || abort.signal.aborted) {
        const reason = (abort.signal.reason as Aborted | undefined)?.status ?? 'canceled';
        status = reason;
        error = reason === 'timed_out' ? `runbook timeout of ${def.timeout} reached` : 'canceled';
      } else {
        status = 'failed';
        error = (err as Error).message;
        this.logger.error(`execution ${execution.id}: ${error}`);
      }
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      this.active.delete(execution.id);
    }
    // The connections are ended here (a command still stopping dies with its connection, as
    // before); their teardown is awaited after the outcome is stored, not before it (sshd's
    // side took 20-200 ms of a 10-node run).
    const closing = sessions.closeAll();
    try {
      await results.flush();
    } catch (err) {
      if (status === 'succeeded') status = 'failed';
      error = (err as Error).message;
      this.logger.error(`execution ${execution.id}: ${error}`);
    }
    write(
      null,
      null,
      'system',
      `finished: ${status}${error ? ` (${error})` : ''} in ${Date.now() - started} ms`,
    );
    await log.flush();
    await this.executions.finish(execution, status, error);
    await closing;
  }

  /** Nodes over their pooled SSH session (bounded by SSH_MAX_PARALLEL); null on this host. */
  private transport(sessions: SshSessionPool): StepTransport {
    return {
      exec: async (target, command, opts) => {
        if (!target) return runLocal(command, opts);
        const session = await sessions.get(target);
        return this.sshSlots.use(() => session.exec(command, opts));
      },
      upload: async (target, path, content, mode) =>
        (await sessions.get(target)).upload(path, content, mode),
      remove: async (target, path) => (await sessions.get(target)).remove(path),
    };
  }

  private async beat(id: string, abort: AbortController): Promise<void> {
    try {
      if ((await this.executions.heartbeat(id)).cancelRequested)
        abort.abort(new Aborted('canceled'));
    } catch (err) {
      this.logger.warn(`heartbeat for ${id} failed: ${(err as Error).message}`);
    }
  }
}
