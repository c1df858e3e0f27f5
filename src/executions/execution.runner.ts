import { chownSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { retryWhileUnreachable } from '../database/db-retry.js';
import { HostKeysService } from '../nodes/host-keys.service.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { durationMs, sizeBytes, type RunbookDefinition } from '../runbooks/runbook.schema.js';
import { RunbooksService } from '../runbooks/runbooks.service.js';
import { MAX_RUNBOOK_NESTING } from '../runbooks/runbook-references.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { toPrincipal } from '../auth/auth.service.js';
import { UsersService } from '../auth/users.service.js';
import { ExecutionsService, type Actor } from './executions.service.js';
import type { ChildOutcome, ChildRun } from './executors/step-executor.js';
import { EgressPolicy } from './egress.js';
import { ExecutionEvents } from './execution-events.js';
import { ExecutionRepository } from './execution.repository.js';
import { isFinal, type ExecutionStatus, type RunOutcome } from './execution-state.js';
import { ExecutionLogWriter, type LogLimit, type LogWriterStats } from './log-writer.js';
import { ExecutionResultWriter } from './result-writer.js';
import { openOptions } from './secret-options.js';
import { SecretMask } from './secret-mask.js';
import { Semaphore } from './semaphore.js';
import { LOCAL_KILL_GRACE_MS, runLocal } from './transports/local.transport.js';
import { LocalProcessRecords } from './transports/local-processes.js';
import { LocalSpawner } from './transports/spawner.js';
import { resolveRunAs, type RunAs } from './transports/local-user.js';
import { SshSessionPool } from './transports/ssh-sessions.js';
import { assertPrivateDir } from './transports/exec.js';
import {
  Aborted,
  Paused,
  runWorkflow,
  WaitingForChild,
  type StepTransport,
  type WorkflowCheckpoint,
} from './workflow.js';
import { ApprovalRequestEntity } from './approval.entity.js';
import { ApprovalsService } from './approvals.service.js';
import type { ExecutionEntity, ExecutionTarget } from './execution.entity.js';
import { renderText } from '../runbooks/template.js';

/** The approval request key of an `approval` step in a batch. */
const stepKey = (step: string, batch: number) => `step:${step}:${batch}`;

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
  /** SSH handshakes in flight (SSH_MAX_PARALLEL too), so a big fan-out never times out its own. */
  private readonly sshConnectSlots: Semaphore;
  private readonly active = new Map<string, AbortController>();
  private readonly optionsKey: Buffer;
  /** Local process groups in flight, for the leftover reaper (DATA_DIR/run). */
  private readonly localProcesses: LocalProcessRecords;
  private readonly localRunUser: string;
  /** Starts local commands from a small helper process (LOCAL_SPAWNER=helper). */
  private readonly spawner: LocalSpawner | undefined;
  private runAs: Promise<RunAs | undefined> | undefined;
  private readonly outageLimitMs: number;
  private readonly egress: EgressPolicy;
  private closing = false;
  /** Set by `interruptAll` (drain grace over): a run claimed from now on is interrupted at once. */
  private interruptReason: string | undefined;
  /** Runs this worker recorded as `interrupted` itself (the drain reports it). */
  interruptedCount = 0;
  /** Totals over every execution this worker ran (tests and the bench read them). */
  readonly logStats: Pick<
    LogWriterStats,
    'stored' | 'pauses' | 'retries' | 'dropped' | 'truncated'
  > = { stored: 0, pauses: 0, retries: 0, dropped: 0, truncated: 0 };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly executions: ExecutionRepository,
    private readonly events: ExecutionEvents,
    private readonly runbooks: RunbooksService,
    private readonly nodes: NodeTargetsService,
    private readonly hostKeys: HostKeysService,
    private readonly approvals: ApprovalsService,
    private readonly service: ExecutionsService,
    private readonly users: UsersService,
    private readonly abilities: AbilityFactory,
  ) {
    this.sshSlots = new Semaphore(config.sshMaxParallel);
    this.sshConnectSlots = new Semaphore(config.sshMaxParallel);
    this.optionsKey = deriveKey(config.secretKey, 'execution-options');
    this.localProcesses = new LocalProcessRecords(join(config.dataDir, 'run'));
    this.localRunUser = config.localRunUser;
    this.spawner =
      config.localSpawner === 'helper'
        ? new LocalSpawner({ warn: (message) => this.logger.warn(message) })
        : undefined;
    this.outageLimitMs = config.dbOutageLimitSeconds * 1000;
    this.egress = new EgressPolicy(config.httpAllowHosts);
  }

  /**
   * Kills local processes that workers on this host, now dead, left running (see
   * LocalProcessRecords); the reaper calls it. Returns how many were killed.
   */
  reapLocalLeftovers(): number {
    const killed = this.localProcesses.reapLeftovers();
    if (killed) this.logger.warn(`killed ${killed} local process(es) left by a dead worker`);
    return killed;
  }

  /** Ids of the executions running on this worker (the reaper leaves them alone). */
  activeIds(): string[] {
    return [...this.active.keys()];
  }

  /**
   * A database write that waits out an outage: retried with backoff while the database is
   * unreachable, for at most the outage limit (`Infinity`: until it works or the worker stops).
   */
  private durable<T>(what: string, fn: () => Promise<T>, limitMs = this.outageLimitMs) {
    let warned = 0;
    return retryWhileUnreachable(fn, {
      limitMs,
      initialDelayMs: 200,
      maxDelayMs: 5000,
      onRetry: (error, delay) => {
        if (this.closing && limitMs === Infinity) throw error;
        if (warned++ % 10 === 0)
          this.logger.warn(`${what}: ${(error as Error).message}; retrying in ${delay} ms`);
      },
    });
  }

  /** The service's output limit, lowered by the runbook's `logLimit`. */
  private logLimit(def: RunbookDefinition): LogLimit {
    const own = def.logLimit;
    return {
      lines: Math.min(this.config.logMaxLines, own?.lines ?? Infinity),
      bytes: Math.min(
        this.config.logMaxBytes,
        own?.bytes !== undefined ? sizeBytes(own.bytes) : Infinity,
      ),
      action: own?.action ?? this.config.logLimitAction,
    };
  }

  /** Asks a running execution on this worker to stop (from a NOTIFY or the heartbeat). */
  cancelLocal(executionId: string): void {
    this.active.get(executionId)?.abort(new Aborted('canceled'));
  }

  /**
   * The drain's last move: every run on this worker stops as `interrupted` (with `reason` in its
   * error and log), keeping the results it has; `interruptedCount` says how many did (a run
   * already past its last step records its own outcome).
   */
  interruptAll(reason: string): void {
    this.interruptReason = reason;
    for (const ctrl of this.active.values()) ctrl.abort(new Aborted('interrupted', reason));
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    for (const ctrl of this.active.values()) ctrl.abort(new Aborted('canceled'));
    // Commands just told to stop get their kill grace to report how they ended.
    await Promise.all([this.egress.close(), this.spawner?.close(LOCAL_KILL_GRACE_MS + 500)]);
  }

  async run(executionId: string): Promise<void> {
    const claimed = await this.durable(`claiming execution ${executionId}`, () =>
      this.executions.claim(executionId, this.workerId),
    );
    if (!claimed) return; // already claimed, finished or canceled: a double delivery is a no-op
    await this.execute(claimed.execution, undefined, claimed.lastLogSeq);
  }

  /**
   * A `runbook` step's child: started through the one start path as the parent's user (access,
   * options, approval, disabled all apply), claimed by this worker and run here, inline — so a
   * parent never waits for a free worker slot its own children need. `chain` is the runbooks from
   * the top-level run down to the parent (the run-time backstop for cycles and depth).
   */
  private async runChild(
    parent: ExecutionEntity,
    chain: readonly string[],
    step: string,
    req: ChildRun,
    write: ExecutionLogWriter['write'],
    pending: { take(step: string): string | undefined },
  ): Promise<ChildOutcome> {
    const trail = [...chain, req.runbook].join(' → ');
    const refused = (error: string): ChildOutcome => ({ id: null, status: 'failed', error });
    if (chain.includes(req.runbook))
      return refused(`runbooks call each other in a cycle: ${trail}`);
    if (chain.length > MAX_RUNBOOK_NESTING)
      return refused(`runbook steps nest deeper than ${MAX_RUNBOOK_NESTING} levels: ${trail}`);
    // Resumed at this step: the child it waited for has ended (its end released this run).
    const waited = pending.take(step);
    if (waited) {
      const c = await this.durable(`reading child execution ${waited}`, () =>
        this.executions.findById(waited),
      );
      if (c && !isFinal(c.status)) throw new WaitingForChild(c.id);
      write(null, step, 'system', `child execution ${waited} ${c?.status ?? 'is gone'}`);
      return { id: waited, status: c?.status ?? 'failed', error: c?.error ?? null };
    }
    const canWait = req.canWait ?? false;
    let child: ExecutionEntity;
    try {
      child = await this.service.start(
        {
          runbook: req.runbook,
          version: req.version,
          options: req.options,
          nodes: req.nodes,
          trigger: 'runbook',
        },
        await this.actorOf(parent),
        { parent, step, worker: this.workerId, secureFrom: req.secureFrom, canWait },
      );
    } catch (err) {
      return refused((err as Error).message);
    }
    if (child.status === 'awaiting_approval') {
      write(
        null,
        step,
        'system',
        `child execution ${child.id}: ${child.runbookName} v${child.runbookVersion} waits for approval before it runs; this run waits for it. Its logs: /executions/${child.id}/logs`,
      );
      throw new WaitingForChild(child.id);
    }
    write(
      null,
      step,
      'system',
      `child execution ${child.id}: ${child.runbookName} v${child.runbookVersion} on ${child.targets.length} node(s); its logs: /executions/${child.id}/logs`,
    );
    const outcome = await this.execute(child, { signal: req.signal, chain, canWait });
    if (outcome.status === 'awaiting_approval' || outcome.status === 'awaiting_child') {
      write(
        null,
        step,
        'system',
        `child execution ${child.id} waits ${outcome.status === 'awaiting_child' ? 'for its own child' : 'for approval at a step'}; this run waits for it`,
      );
      throw new WaitingForChild(child.id);
    }
    write(null, step, 'system', `child execution ${child.id} ${outcome.status}`);
    return { id: child.id, ...outcome };
  }

  /** The parent's user as an actor, with their roles and groups as they are now. */
  private async actorOf(parent: ExecutionEntity): Promise<Actor> {
    const user = parent.actorId ? await this.users.findById(parent.actorId) : null;
    if (!user || user.disabled)
      throw new Error(
        `${parent.actorName}, who started this run, no longer exists or is disabled: a runbook step runs as them`,
      );
    const principal = toPrincipal(user, 'session');
    return {
      principal,
      ability: this.abilities.create(principal),
      audit: { actorId: user.id, actorName: user.username },
    };
  }

  /**
   * Runs a claimed execution to its end; a child gets its parent's stop signal and call chain.
   * `lastLogSeq`: its log's last sequence number when the claim already read it.
   */
  private async execute(
    execution: ExecutionEntity,
    link?: { signal: AbortSignal; chain: readonly string[]; canWait: boolean },
    lastLogSeq?: number,
  ): Promise<{ status: ExecutionStatus; error: string | null }> {
    const abort = new AbortController();
    this.active.set(execution.id, abort);
    if (this.interruptReason) abort.abort(new Aborted('interrupted', this.interruptReason));
    const onParentStop = () => abort.abort(new Aborted('canceled', 'the parent execution stopped'));
    if (link?.signal.aborted) onParentStop();
    else link?.signal.addEventListener('abort', onParentStop, { once: true });
    let def: RunbookDefinition;
    let secrets: Record<string, string>;
    let logSeq: number;
    try {
      // Lines written while it was queued (concurrency) come first.
      logSeq =
        lastLogSeq ??
        (await this.durable(`reading the log of ${execution.id}`, () =>
          this.executions.lastLogSeq(execution.id),
        ));
      def = (
        await this.durable(`loading the runbook of ${execution.id}`, () =>
          this.runbooks.versionForRun(execution.versionId),
        )
      ).definition;
      secrets = execution.secretOptions
        ? openOptions(execution.secretOptions, this.optionsKey, execution.id)
        : {};
    } catch (err) {
      this.active.delete(execution.id);
      link?.signal.removeEventListener('abort', onParentStop);
      await this.durable(
        `recording how ${execution.id} ended`,
        () => this.executions.finish(execution, 'failed', (err as Error).message),
        Infinity,
      );
      return { status: 'failed', error: (err as Error).message };
    }
    // A child run after its approval, on any worker, gets its call chain from its ancestors.
    const chain = [
      ...(link?.chain ??
        (execution.parentExecutionId
          ? await this.durable(`reading the parents of ${execution.id}`, () =>
              this.executions.ancestorRunbooks(execution.id),
            )
          : [])),
      def.name,
    ];
    // Every string that leaves this run (log lines, step errors, its error, the service log)
    // goes through the mask.
    const mask = new SecretMask(Object.values(secrets));
    // A run resumed after an approval step goes on from its checkpoint and its last log line.
    const resume = execution.checkpoint as WorkflowCheckpoint | null;
    // The child a run paused at a `runbook` step waited for, read by that step once resumed.
    let waitedChild = resume?.child
      ? { step: def.steps[resume.step]?.name, id: resume.child.id }
      : null;
    const pending = {
      take: (step: string) => {
        const id = waitedChild?.step === step ? waitedChild.id : undefined;
        waitedChild = null;
        return id;
      },
    };
    const log = new ExecutionLogWriter(this.dataSource, this.events, execution.id, logSeq, mask, {
      outageLimitMs: this.outageLimitMs,
      limit: this.logLimit(def),
      // The run cannot go on (output limit with action fail, database away too long).
      onFatal: (error) => abort.abort(new Aborted('failed', error.message)),
      warn: (message) => this.logger.warn(message),
    });
    const write = log.write.bind(log);
    // Step results wait out a database outage like the log does (up to the outage limit).
    const results = new ExecutionResultWriter(this.dataSource, {
      retry: (write) => this.durable(`recording step results of ${execution.id}`, write),
    });
    const heartbeat = setInterval(() => void this.beat(execution.id, abort), HEARTBEAT_MS);
    // The runbook timeout counts running time only: what ran before a pause is taken off.
    const ranBefore = resume?.elapsedMs ?? 0;
    const timeout = def.timeout
      ? setTimeout(
          () => abort.abort(new Aborted('timed_out')),
          Math.max(0, durationMs(def.timeout) - ranBefore),
        )
      : undefined;
    const sessions = new SshSessionPool(
      {
        connectionTargets: (ids) => this.nodes.connectionTargets(ids),
        learnHostKey: (...a) => this.hostKeys.learnHostKey(...a),
        reportHostKeyMismatch: (...a) => this.hostKeys.reportHostKeyMismatch(...a),
      },
      { actorId: execution.actorId, actorName: execution.actorName },
      (node, line) => write(node, null, 'system', line),
      this.sshConnectSlots,
    );
    let status: RunOutcome | 'interrupted' = 'succeeded';
    let error: string | null = null;
    let paused: Paused | undefined;
    let workflowReturned = false;
    const started = Date.now();
    try {
      write(
        null,
        null,
        'system',
        resume
          ? `resumed ${def.name} v${execution.runbookVersion} at step ${def.steps[resume.step]?.name} ${resume.child ? `after child execution ${resume.child.id} ended` : 'after its approval'}`
          : `started ${def.name} v${execution.runbookVersion} on ${execution.targets.length} node(s) by ${execution.actorName}${execution.parentExecutionId ? ` for step ${execution.parentStep} of execution ${execution.parentExecutionId}` : ''}`,
      );
      const ok = await runWorkflow({
        def,
        execution,
        options: { ...execution.options, ...secrets },
        secure: new Set(Object.keys(secrets)),
        log: write,
        backpressure: log,
        mask,
        signal: abort.signal,
        transport: this.transport(sessions, execution.id),
        egress: this.egress,
        results: {
          startStep: (...a) => results.startStep(...a),
          finishStep: (row, outcome) =>
            results.finishStep(row, { ...outcome, error: mask.mask(outcome.error) }),
        },
        approval: (step, batch) =>
          this.durable(`reading the approval of ${execution.id}`, () =>
            this.approvals.stepDecision(execution.id, stepKey(step.name, batch)),
          ),
        resume,
        children: {
          run: (step, req) => this.runChild(execution, chain, step, req, write, pending),
        },
      });
      workflowReturned = true;
      if (!ok) {
        status = 'failed';
        error = 'one or more steps failed';
      }
    } catch (err) {
      if (err instanceof Paused && !abort.signal.aborted && (!link || link.canWait)) {
        // A child pauses like any run; its parent then waits for it (awaiting_child).
        paused = err;
      } else if (err instanceof Paused && !abort.signal.aborted) {
        // A child of an onError step or a between gate: its parent has no checkpoint there.
        status = 'failed';
        error = `step ${err.step.name} waits for ${err.checkpoint.child ? `child execution ${err.checkpoint.child.id}` : 'approval'}, which a runbook step in onError or a between gate cannot wait for`;
      } else if (err instanceof Aborted || abort.signal.aborted) {
        const aborted = abort.signal.reason as Aborted | undefined;
        const reason = aborted?.status ?? 'canceled';
        status = reason;
        error =
          reason === 'timed_out'
            ? `runbook timeout of ${def.timeout} reached`
            : reason === 'failed' || reason === 'interrupted'
              ? mask.mask(aborted!.message)
              : 'canceled';
      } else {
        status = 'failed';
        error = mask.mask((err as Error).message);
        this.logger.error(`execution ${execution.id}: ${error}`);
      }
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      link?.signal.removeEventListener('abort', onParentStop);
    }
    // A run that stopped early ends its connections here (a command still stopping dies with
    // its connection, as before). One whose workflow returned has no command left running: its
    // connections are ended once the outcome is stored, as the teardown of 1,000 sshd sessions
    // at once competes for the CPU with storing it (1.3 s of a loaded 1,000-node run). Either
    // way the teardown is awaited last (sshd's side took 20-200 ms of a 10-node run).
    let closing: Promise<void> | undefined = workflowReturned ? undefined : sessions.closeAll();
    const closeAll = () => (closing ??= sessions.closeAll());
    try {
      await results.flush();
    } catch (err) {
      if (status === 'succeeded') status = 'failed';
      error = mask.mask((err as Error).message);
      this.logger.error(`execution ${execution.id}: ${error}`);
    }
    if (paused && status === 'succeeded') {
      paused.checkpoint.elapsedMs = ranBefore + Date.now() - started;
      await this.pause(
        execution,
        def,
        paused,
        write,
        log,
        { ...execution.options, ...secrets },
        mask,
      );
      await closeAll();
      return {
        status: paused.checkpoint.child ? 'awaiting_child' : 'awaiting_approval',
        error: null,
      };
    }
    write(
      null,
      null,
      'system',
      `finished: ${status}${error ? ` (${error})` : ''} in ${Date.now() - started} ms`,
    );
    await log.flush();
    if (log.error && status === 'succeeded') {
      status = 'failed';
      error = `output could not be stored: ${log.error.message}`;
    }
    for (const k of Object.keys(this.logStats) as Array<keyof ExecutionRunner['logStats']>)
      this.logStats[k] += log.stats[k];
    // Recorded once the database can take it, however long that is. Until then it stays in
    // `active`, so this worker's reaper does not take its silent heartbeat for a dead worker.
    try {
      await this.durable(
        `recording how ${execution.id} ended`,
        async () => {
          if (status !== 'interrupted') return this.executions.finish(execution, status, error);
          if (await this.executions.interrupt(execution, error ?? 'interrupted'))
            this.interruptedCount++;
        },
        Infinity,
      );
    } finally {
      this.active.delete(execution.id);
      void closeAll(); // also when recording it threw
    }
    await closeAll();
    return { status, error };
  }

  /**
   * The run waits at an approval step: its log is flushed, then in one transaction the
   * checkpoint is stored, the run moves running → awaiting_approval (no worker holds it: the
   * reaper leaves it alone) and the request is recorded; a decision puts it back on the queue.
   */
  private async pause(
    execution: ExecutionEntity,
    def: RunbookDefinition,
    paused: Paused,
    write: (node: string | null, step: string | null, stream: 'system', line: string) => void,
    log: ExecutionLogWriter,
    options: Record<string, unknown>,
    mask: SecretMask,
  ): Promise<void> {
    const { step, batch, checkpoint } = paused;
    if (checkpoint.child) {
      // Waiting for a child: no request of its own (the child has it); the child's end releases it.
      await log.flush();
      try {
        await this.durable(
          `pausing ${execution.id} for its child`,
          () =>
            this.executions.pause(
              execution.id,
              { ...checkpoint },
              async () => {},
              'awaiting_child',
            ),
          Infinity,
        );
      } finally {
        this.active.delete(execution.id);
      }
      return;
    }
    const approval = step.approval!;
    const key = stepKey(step.name, batch);
    const message = mask.mask(
      renderText(approval.message, {
        options,
        secureOptions: new Set(def.options?.filter((o) => o.type === 'secure').map((o) => o.name)),
        steps: checkpoint.local,
        execution: { id: execution.id, actor: execution.actorName },
      }).display,
    );
    const approvers = approval.approvers ??
      def.approval?.approvers ??
      def.access?.approve ?? ['admin'];
    write(null, step.name, 'system', `waiting for approval (${approvers.join(', ')}): ${message}`);
    await log.flush();
    try {
      await this.durable(
        `pausing ${execution.id} for approval`,
        () =>
          this.executions.pause(execution.id, { ...checkpoint }, async (m) => {
            if (await m.findOneBy(ApprovalRequestEntity, { executionId: execution.id, key }))
              return;
            await this.approvals.request(
              m,
              execution,
              {
                key,
                step: step.name,
                reason: message,
                plan: null,
                choices: approval.choices ?? null,
                approvers,
                rules: approval,
              },
              { actorId: execution.actorId, actorName: execution.actorName },
            );
          }),
        Infinity,
      );
    } finally {
      this.active.delete(execution.id);
    }
  }

  /**
   * Nodes over their pooled SSH session (bounded by SSH_MAX_PARALLEL); null (`on: local`) and
   * `connection: local` nodes (the built-in localhost) on this host, as the run user when the
   * service is root.
   */
  private transport(sessions: SshSessionPool, executionId: string): StepTransport {
    const local = (t: ExecutionTarget | null) => !t || t.connection === 'local';
    return {
      exec: async (target, command, opts) => {
        if (local(target)) {
          const runAs = await this.localRunAs();
          return runLocal(command, {
            ...opts,
            runAs,
            spawner: this.spawner,
            track: {
              executionId,
              started: (pgid) =>
                this.trackLocal(() => this.localProcesses.record(executionId, pgid)),
              ended: (pgid) => this.trackLocal(() => this.localProcesses.forget(executionId, pgid)),
            },
          });
        }
        const session = await sessions.get(target!);
        return this.sshSlots.use(() => session.exec(command, opts));
      },
      upload: async (target, path, content, mode) => {
        if (!local(target)) return (await sessions.get(target)).upload(path, content, mode);
        // O_EXCL: never through a file or symlink someone else put at that path.
        writeFileSync(path, content, { mode, flag: 'wx' });
        const runAs = await this.localRunAs();
        if (runAs) chownSync(path, runAs.uid, runAs.gid);
      },
      remove: async (target, path) => {
        if (!local(target)) return (await sessions.get(target)).remove(path);
        unlinkSync(path);
      },
      makePrivateDir: async (target, path) => {
        if (!local(target)) return (await sessions.get(target)).makePrivateDir(path);
        assertPrivateDir(path);
        mkdirSync(path, { mode: 0o700 }); // exclusive: EEXIST if anything is there
        const runAs = await this.localRunAs();
        if (runAs) chownSync(path, runAs.uid, runAs.gid);
      },
      removeDir: async (target, path) => {
        if (!local(target)) return (await sessions.get(target)).removeDir(path);
        assertPrivateDir(path);
        rmSync(path, { recursive: true, force: true });
      },
    };
  }

  /** The leftover record is a safety net: failing to write it never fails the step. */
  private trackLocal(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.logger.warn(`local process record: ${(err as Error).message}`);
    }
  }

  /** The unprivileged user local commands run as (root only; created on first use). */
  private localRunAs(): Promise<RunAs | undefined> {
    this.runAs ??= resolveRunAs(this.localRunUser).catch((err: Error) => {
      this.runAs = undefined; // try again on the next local command
      throw err;
    });
    return this.runAs;
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
