import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { HostKeysService } from '../nodes/host-keys.service.js';
import { NodeTargetsService } from '../nodes/node-targets.service.js';
import { test as testCondition } from '../runbooks/condition.js';
import {
  durationMs,
  stepKind,
  type RunbookDefinition,
  type StepDefinition,
} from '../runbooks/runbook.schema.js';
import { RunbookVersionEntity } from '../runbooks/runbook-version.entity.js';
import {
  renderShell,
  renderStructured,
  renderText,
  renderUrl,
  type TemplateValues,
} from '../runbooks/template.js';
import { ExecutionResultEntity, type StepStatus } from './execution-result.entity.js';
import { ExecutionEntity, type ExecutionStatus, type ExecutionTarget } from './execution.entity.js';
import { runLocal } from './local.executor.js';
import { EXECUTION_CHANNEL, ExecutionLogWriter, type ExecutionNotice } from './log-writer.js';
import { openOptions } from './secret-options.js';
import { mapLimit, Semaphore } from './semaphore.js';
import { SshError, SshSession, type ExecResult } from './ssh.client.js';
import { evaluateCheck, extractCaptures } from './step-output.js';

const DEFAULT_MAX_PARALLEL = 50;
const HEARTBEAT_MS = 5000;
const MAX_CAPTURE_BYTES = 1024 * 1024;

type Outcome = 'ok' | 'failed' | 'skipped';

interface NodeState {
  target: ExecutionTarget;
  captures: Record<string, { captures: Record<string, string> }>;
  failed: boolean;
}

class Aborted extends Error {
  constructor(readonly status: 'canceled' | 'timed_out') {
    super(status);
  }
}

/**
 * The worker side of an execution: claims the row, runs the pinned version's steps on its
 * targets (parallel, sequential or rolling batches), streams output to the log table, records
 * each step's result per node, and ends in succeeded, failed, canceled or timed_out.
 */
@Injectable()
export class ExecutionRunner implements OnModuleDestroy {
  private readonly logger = new Logger(ExecutionRunner.name);
  private readonly workerId = `${hostname()}:${process.pid}`;
  private readonly sshSlots: Semaphore;
  private readonly active = new Map<string, AbortController>();
  private readonly optionsKey: Buffer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly nodes: NodeTargetsService,
    private readonly hostKeys: HostKeysService,
    private readonly audit: AuditService,
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
    const claimed = await this.claim(executionId);
    if (!claimed) return; // already claimed, finished or canceled: a double delivery is a no-op
    const execution = claimed;
    const abort = new AbortController();
    this.active.set(execution.id, abort);
    const version = await this.dataSource
      .getRepository(RunbookVersionEntity)
      .findOneByOrFail({ id: execution.versionId });
    const def = version.definition;
    const secrets = execution.secretOptions
      ? openOptions(execution.secretOptions, this.optionsKey, execution.id)
      : {};
    const log = new ExecutionLogWriter(this.dataSource, execution.id, 0, Object.values(secrets));
    const heartbeat = setInterval(() => void this.beat(execution.id, abort), HEARTBEAT_MS);
    const timeout = def.timeout
      ? setTimeout(() => abort.abort(new Aborted('timed_out')), durationMs(def.timeout))
      : undefined;
    const sessions = new Map<string, Promise<SshSession>>();
    let status: ExecutionStatus = 'succeeded';
    let error: string | null = null;
    const started = Date.now();
    try {
      log.write(
        null,
        null,
        'system',
        `started ${def.name} v${execution.runbookVersion} on ${execution.targets.length} node(s) by ${execution.actorName}`,
      );
      const options = { ...execution.options, ...secrets };
      const secure = new Set(Object.keys(secrets));
      const ok = await this.workflow(def, execution, options, secure, log, sessions, abort.signal);
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
      await Promise.allSettled([...sessions.values()].map(async (s) => (await s).close()));
    }
    log.write(
      null,
      null,
      'system',
      `finished: ${status}${error ? ` (${error})` : ''} in ${Date.now() - started} ms`,
    );
    await log.flush();
    await this.finish(execution, status, error);
  }

  private async claim(id: string): Promise<ExecutionEntity | null> {
    // TypeORM returns [rows, affected] for UPDATE … RETURNING.
    const rows = await this.dataSource.query<[Array<{ id: string }>, number]>(
      `UPDATE executions SET status = 'running', started_at = now(), heartbeat_at = now(), worker = $2
       WHERE id = $1 AND status = 'queued' AND NOT cancel_requested RETURNING id`,
      [id, this.workerId],
    );
    if (rows[1] === 0) {
      // Canceled before it started: close it out.
      await this.dataSource.query(
        `UPDATE executions SET status = 'canceled', finished_at = now(), error = 'canceled before it started'
         WHERE id = $1 AND status = 'queued' AND cancel_requested`,
        [id],
      );
      return null;
    }
    await this.notify(id, 'status');
    return this.dataSource.getRepository(ExecutionEntity).findOneByOrFail({ id });
  }

  private async beat(id: string, abort: AbortController): Promise<void> {
    try {
      const [rows] = await this.dataSource.query<[Array<{ cancel_requested: boolean }>, number]>(
        'UPDATE executions SET heartbeat_at = now() WHERE id = $1 RETURNING cancel_requested',
        [id],
      );
      if (rows[0]?.cancel_requested) abort.abort(new Aborted('canceled'));
    } catch (err) {
      this.logger.warn(`heartbeat for ${id} failed: ${(err as Error).message}`);
    }
  }

  private async finish(execution: ExecutionEntity, status: ExecutionStatus, error: string | null) {
    await this.dataSource.transaction(async (m) => {
      await m.update(
        ExecutionEntity,
        { id: execution.id },
        { status, error, finishedAt: new Date() },
      );
      const ctx: AuditContext = { actorId: execution.actorId, actorName: execution.actorName };
      await this.audit.record(
        ctx,
        {
          action: 'execution.finish',
          outcome: status === 'succeeded' ? 'success' : 'failure',
          subjectType: 'Execution',
          subjectId: execution.id,
          details: {
            runbook: execution.runbookName,
            version: execution.runbookVersion,
            status,
            error,
          },
        },
        m,
      );
    });
    await this.notify(execution.id, 'status');
  }

  private notify(id: string, kind: ExecutionNotice['kind']) {
    return this.dataSource.query('SELECT pg_notify($1, $2)', [
      EXECUTION_CHANNEL,
      JSON.stringify({ id, kind }),
    ]);
  }

  /** Batches by strategy; each batch runs every step in order. Returns false when anything failed. */
  private async workflow(
    def: RunbookDefinition,
    execution: ExecutionEntity,
    options: Record<string, unknown>,
    secure: ReadonlySet<string>,
    log: ExecutionLogWriter,
    sessions: Map<string, Promise<SshSession>>,
    signal: AbortSignal,
  ): Promise<boolean> {
    const states = execution.targets.map((target): NodeState => ({
      target,
      captures: {},
      failed: false,
    }));
    const strategy = def.targets?.strategy ?? 'parallel';
    const batchSize =
      strategy === 'parallel'
        ? Math.max(1, states.length)
        : strategy === 'sequential'
          ? 1
          : Math.max(
              1,
              Number(renderText(String(def.targets?.batchSize ?? 1), { options }).text) || 1,
            );
    const batches: NodeState[][] = [];
    for (let i = 0; i < states.length; i += batchSize) batches.push(states.slice(i, i + batchSize));
    if (batches.length === 0) batches.push([]);
    const keepGoing = def.targets?.keepGoing ?? false;
    const localCaptures: NodeState['captures'] = {};
    // Node attributes for templates and conditions, read once for the whole run.
    const known = await this.nodes.resolve(
      undefined,
      execution.targets.map((t) => t.name),
    );
    const nodeValues = new Map(
      known.map((n) => [
        n.name,
        {
          name: n.name,
          hostname: n.hostname,
          port: n.port,
          user: n.user,
          attributes: n.attributes,
        },
      ]),
    );
    const ctx: StepContext = {
      def,
      execution,
      options,
      secure,
      log,
      sessions,
      signal,
      localCaptures,
      nodeValues,
    };

    let failed = false;
    for (const [b, batch] of batches.entries()) {
      if (batches.length > 1)
        log.write(
          null,
          null,
          'system',
          `batch ${b + 1}/${batches.length}: ${batch.map((s) => s.target.name).join(', ')}`,
        );
      for (const step of def.steps) {
        throwIfAborted(signal);
        const ok = await this.runStep(step, batch, ctx);
        if (!ok) {
          failed = true;
          if (!keepGoing || batch.every((s) => s.failed)) break;
        }
      }
      if (failed && !keepGoing) break;
    }
    if (failed && def.onError?.length) {
      log.write(null, null, 'system', 'running onError steps');
      const failedNodes = states.filter((s) => s.failed);
      for (const step of def.onError) {
        if (signal.aborted) break;
        await this.runStep(
          step,
          failedNodes.length ? failedNodes.map((s) => ({ ...s, failed: false })) : states,
          ctx,
        );
      }
    }
    return !failed;
  }

  /** One step on a batch: once on the host for local/sleep steps, else on every live node. */
  private async runStep(
    step: StepDefinition,
    batch: NodeState[],
    ctx: StepContext,
  ): Promise<boolean> {
    const kind = stepKind(step);
    const local =
      kind === 'sleep' ||
      kind === 'approval' ||
      kind === 'runbook' ||
      (step.on ?? (step.http || step.check?.http ? 'local' : 'targets')) === 'local';
    if (local) {
      const outcome = await this.runOnce(step, null, { steps: ctx.localCaptures }, ctx);
      return outcome !== 'failed' || Boolean(step.continueOnError);
    }
    const live = batch.filter((s) => !s.failed);
    const maxParallel = ctx.def.targets?.maxParallel ?? DEFAULT_MAX_PARALLEL;
    const outcomes = await mapLimit(live, maxParallel, async (state) => {
      const outcome = await this.runOnce(step, state.target, { steps: state.captures }, ctx, state);
      if (outcome === 'failed' && !step.continueOnError) state.failed = true;
      return outcome;
    });
    return outcomes.every((o) => o !== 'failed') || Boolean(step.continueOnError);
  }

  /** A step on one node (or locally), with `when`, retries and captures. */
  private async runOnce(
    step: StepDefinition,
    target: ExecutionTarget | null,
    scope: { steps: NodeState['captures'] },
    ctx: StepContext,
    state?: NodeState,
  ): Promise<Outcome> {
    const values: TemplateValues = {
      options: ctx.options,
      secureOptions: ctx.secure,
      steps: scope.steps,
      execution: { id: ctx.execution.id, actor: ctx.execution.actorName },
      ...(target ? { node: ctx.nodeValues.get(target.name) ?? fallbackNode(target) } : {}),
    };
    const nodeName = target?.name ?? null;
    const result = await this.dataSource.getRepository(ExecutionResultEntity).save({
      executionId: ctx.execution.id,
      step: step.name,
      node: nodeName,
      status: 'running',
      attempt: 1,
      startedAt: new Date(),
    });
    const finish = async (
      status: StepStatus,
      exitCode: number | null,
      error: string | null,
      attempt: number,
    ) => {
      const finishedAt = new Date();
      await this.dataSource.getRepository(ExecutionResultEntity).update(
        { id: result.id },
        {
          status,
          exitCode,
          error,
          attempt,
          finishedAt,
          durationMs: finishedAt.getTime() - result.startedAt.getTime(),
        },
      );
    };
    if (
      step.when &&
      !testCondition(step.when, {
        options: ctx.options,
        node: values.node ?? null,
        steps: scope.steps,
      })
    ) {
      ctx.log.write(nodeName, step.name, 'system', `skipped: ${step.when} is false`);
      await finish('skipped', null, null, 1);
      return 'skipped';
    }
    const attempts = step.retry?.attempts ?? 1;
    let last: StepAttempt = { ok: false, exitCode: null, error: 'not run', output: '' };
    let used = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      throwIfAborted(ctx.signal);
      used = attempt;
      if (attempt > 1) {
        ctx.log.write(
          nodeName,
          step.name,
          'system',
          `attempt ${attempt}/${attempts}: ${last.error ?? 'failed'}`,
        );
        await sleep(step.retry?.delay ? durationMs(step.retry.delay) : 1000, ctx.signal);
      }
      last = await this.attempt(step, target, values, ctx);
      if (last.ok) break;
      if (last.fatal) break;
    }
    if (last.ok && step.capture) {
      const { values: got, missing } = extractCaptures(step.capture, last.output);
      if (missing.length) {
        last = {
          ...last,
          ok: false,
          error: `capture ${missing.join(', ')} not found in the output`,
        };
      } else {
        scope.steps[step.name] = { captures: got };
        if (state) state.captures[step.name] = { captures: got };
      }
    }
    throwIfAborted(ctx.signal);
    if (!last.ok) ctx.log.write(nodeName, step.name, 'system', `failed: ${last.error}`);
    await finish(
      last.ok ? 'succeeded' : last.timedOut ? 'timed_out' : 'failed',
      last.exitCode,
      last.ok ? null : (last.error ?? null),
      used,
    );
    return last.ok ? 'ok' : 'failed';
  }

  private async attempt(
    step: StepDefinition,
    target: ExecutionTarget | null,
    values: TemplateValues,
    ctx: StepContext,
  ): Promise<StepAttempt> {
    const kind = stepKind(step);
    const nodeName = target?.name ?? null;
    const timeoutMs = step.timeout ? durationMs(step.timeout) : undefined;
    const lines: string[] = [];
    let bytes = 0;
    const onLine = (stream: 'stdout' | 'stderr', line: string) => {
      ctx.log.write(nodeName, step.name, stream, line);
      if (stream === 'stdout' && bytes < MAX_CAPTURE_BYTES) {
        lines.push(line);
        bytes += line.length + 1;
      }
    };
    const shell = async (command: { text: string; display: string }): Promise<ExecResult> => {
      ctx.log.write(nodeName, step.name, 'system', `$ ${command.display}`);
      if (!target) return runLocal(command.text, { timeoutMs, signal: ctx.signal, onLine });
      const session = await this.session(target, ctx);
      return this.sshSlots.use(() =>
        session.exec(command.text, { timeoutMs, signal: ctx.signal, onLine }),
      );
    };
    try {
      switch (kind) {
        case 'sleep':
          ctx.log.write(nodeName, step.name, 'system', `sleeping ${step.sleep}`);
          await sleep(durationMs(step.sleep!), ctx.signal);
          return { ok: true, exitCode: null, output: '' };
        case 'run': {
          const r = await shell(renderShell(step.run!, values));
          return fromExec(r, lines, timeoutMs);
        }
        case 'script': {
          const body = renderShell(step.script!, values);
          const path = `/tmp/firebreak-${ctx.execution.id.slice(0, 8)}-${step.name}-${Math.random().toString(36).slice(2, 8)}`;
          if (!target) {
            const r = await runLocal(`${step.interpreter ?? '/bin/sh'} -c ${shQuote(body.text)}`, {
              timeoutMs,
              signal: ctx.signal,
              onLine,
            });
            return fromExec(r, lines, timeoutMs);
          }
          const session = await this.session(target, ctx);
          await session.upload(path, body.text, 0o700);
          try {
            const r = await shell({
              text: `${step.interpreter ?? '/bin/sh'} ${path}`,
              display: `${step.interpreter ?? '/bin/sh'} <script ${step.name}>`,
            });
            return fromExec(r, lines, timeoutMs);
          } finally {
            await session.remove(path).catch(() => undefined);
          }
        }
        case 'check': {
          if (step.check!.run) {
            const r = await shell(renderShell(step.check!.run, values));
            if (r.timedOut) return fromExec(r, lines, timeoutMs);
            const failures = evaluateCheck(
              step.check!.expect,
              { exitCode: r.exitCode, output: lines.join('\n') },
              (v) => renderStructured(v, values).value,
            );
            return failures.length
              ? {
                  ok: false,
                  exitCode: r.exitCode,
                  error: `check failed: ${failures.join('; ')}`,
                  output: lines.join('\n'),
                }
              : { ok: true, exitCode: r.exitCode, output: lines.join('\n') };
          }
          const res = await this.http(
            step.check!.http!,
            values,
            nodeName,
            step.name,
            ctx,
            timeoutMs,
          );
          const failures = evaluateCheck(
            step.check!.expect,
            { status: res.status, output: res.body },
            (v) => renderStructured(v, values).value,
          );
          return failures.length
            ? {
                ok: false,
                exitCode: null,
                error: `check failed: ${failures.join('; ')}`,
                output: res.body,
              }
            : { ok: true, exitCode: null, output: res.body };
        }
        case 'http': {
          const res = await this.http(step.http!, values, nodeName, step.name, ctx, timeoutMs);
          const expected = step.http!.expect?.status;
          const ok = expected
            ? expected.includes(res.status)
            : res.status >= 200 && res.status < 300;
          return ok
            ? { ok: true, exitCode: null, output: res.body }
            : {
                ok: false,
                exitCode: null,
                error: `HTTP ${res.status}${expected ? `, expected ${expected.join(' or ')}` : ''}`,
                output: res.body,
              };
        }
        default:
          return {
            ok: false,
            fatal: true,
            exitCode: null,
            error: `${kind} steps are not supported by this engine yet`,
            output: '',
          };
      }
    } catch (err) {
      if (err instanceof Aborted || ctx.signal.aborted)
        throw err instanceof Aborted ? err : (ctx.signal.reason as Error);
      if (err instanceof SshError)
        return { ok: false, fatal: true, exitCode: null, error: err.message, output: '' };
      return { ok: false, exitCode: null, error: (err as Error).message, output: '' };
    }
  }

  /** One SSH connection per node per execution, reused by every step. */
  private session(target: ExecutionTarget, ctx: StepContext): Promise<SshSession> {
    let s = ctx.sessions.get(target.name);
    if (!s) {
      s = (async () => {
        if (!target.id)
          throw new SshError(
            'unreachable',
            `${target.name} is not in the node inventory`,
            target.name,
          );
        const conn = await this.nodes.connectionTarget(target.id);
        const sys: AuditContext = {
          actorId: ctx.execution.actorId,
          actorName: ctx.execution.actorName,
        };
        try {
          const session = await SshSession.connect(conn);
          if (session.learnedHostKey) {
            await this.hostKeys.learnHostKey(target.id, session.hostKeyFingerprint, sys);
            ctx.log.write(
              target.name,
              null,
              'system',
              `trusted host key ${session.hostKeyFingerprint} on first use`,
            );
          }
          return session;
        } catch (err) {
          if (err instanceof SshError && err.kind === 'host_key_mismatch') {
            const offered = /got (SHA256:[A-Za-z0-9+/]+)/.exec(err.message)?.[1] ?? 'unknown';
            await this.hostKeys
              .reportHostKeyMismatch(target.id, conn.hostKey.fingerprint ?? '', offered, sys)
              .catch(() => undefined);
          }
          throw err;
        }
      })();
      ctx.sessions.set(target.name, s);
    }
    return s;
  }

  private async http(
    spec: NonNullable<StepDefinition['http']>,
    values: TemplateValues,
    node: string | null,
    step: string,
    ctx: StepContext,
    timeoutMs: number | undefined,
  ): Promise<{ status: number; body: string }> {
    const url = renderUrl(spec.url, values);
    const method = spec.method ?? (spec.json !== undefined || spec.body ? 'POST' : 'GET');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(spec.headers ?? {})) {
      const rendered = renderText(v, values).text;
      if (/[\r\n]/.test(rendered)) throw new Error(`header ${k} would contain a line break`);
      headers[k] = rendered;
    }
    let body: string | undefined;
    if (spec.json !== undefined) {
      body = JSON.stringify(renderStructured(spec.json, values).value);
      headers['content-type'] ??= 'application/json';
    } else if (spec.body) body = renderText(spec.body, values).text;
    ctx.log.write(node, step, 'system', `${method} ${url.display}`);
    const signals = [ctx.signal, ...(timeoutMs ? [AbortSignal.timeout(timeoutMs)] : [])];
    const res = await fetch(url.text, {
      method,
      headers,
      body,
      signal: AbortSignal.any(signals),
      redirect: 'manual',
    });
    const text = (await res.text()).slice(0, MAX_CAPTURE_BYTES);
    ctx.log.write(node, step, 'system', `HTTP ${res.status}`);
    for (const line of text.split('\n').slice(0, 200)) ctx.log.write(node, step, 'stdout', line);
    return { status: res.status, body: text };
  }
}

interface StepContext {
  def: RunbookDefinition;
  execution: ExecutionEntity;
  options: Record<string, unknown>;
  secure: ReadonlySet<string>;
  log: ExecutionLogWriter;
  sessions: Map<string, Promise<SshSession>>;
  signal: AbortSignal;
  localCaptures: NodeState['captures'];
  nodeValues: Map<string, NonNullable<TemplateValues['node']>>;
}

function fallbackNode(target: ExecutionTarget): NonNullable<TemplateValues['node']> {
  return { name: target.name, hostname: target.hostname, port: 22, user: '', attributes: {} };
}

interface StepAttempt {
  ok: boolean;
  exitCode: number | null;
  error?: string;
  output: string;
  timedOut?: boolean;
  /** No point retrying (cannot connect, unsupported). */
  fatal?: boolean;
}

function fromExec(r: ExecResult, lines: string[], timeoutMs: number | undefined): StepAttempt {
  const output = lines.join('\n');
  if (r.timedOut)
    return {
      ok: false,
      timedOut: true,
      exitCode: r.exitCode,
      error: `timed out after ${timeoutMs} ms`,
      output,
    };
  if (r.exitCode === 0) return { ok: true, exitCode: 0, output };
  return {
    ok: false,
    exitCode: r.exitCode,
    error: r.signal ? `killed by signal ${r.signal}` : `exit code ${r.exitCode}`,
    output,
  };
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw signal.reason instanceof Aborted ? signal.reason : new Aborted('canceled');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export { Aborted };
