import type { EgressPolicy } from './egress.js';
import { test as testCondition } from '../runbooks/condition.js';
import {
  durationMs,
  stepKind,
  stepRetry,
  type RunbookDefinition,
  type StepDefinition,
} from '../runbooks/runbook.schema.js';
import { renderText, type TemplateValues } from '../runbooks/template.js';
import type { ExecutionResultWriter } from './result-writer.js';
import { ExecutionResultEntity } from './execution-result.entity.js';
import type { ExecutionEntity, ExecutionTarget } from './execution.entity.js';
import type { LogStream } from './execution-log.entity.js';
import { STEP_EXECUTORS } from './executors/index.js';
import {
  MAX_CAPTURE_BYTES,
  sleep,
  type ChildOutcome,
  type ChildRun,
  type StepAttempt,
  type StepCall,
} from './executors/step-executor.js';
import { mapLimit } from './semaphore.js';
import { extractCaptures } from './step-output.js';
import type { Backpressure, ExecOptions, ExecResult } from './transports/exec.js';
import type { LineMask } from './transports/line-splitter.js';
import { SshError } from './transports/ssh-errors.js';

const DEFAULT_MAX_PARALLEL = 50;

type Outcome = 'ok' | 'failed' | 'skipped';
type Captures = Record<string, { captures: Record<string, string>; choice?: string }>;

/**
 * Where a run paused at an `approval` step resumes: the batch and the step (the approval step
 * itself, which then finds its decision), each node's captures and failure (in `targets`
 * order), the local captures and whether anything failed so far.
 */
export interface WorkflowCheckpoint {
  batch: number;
  step: number;
  nodes: Array<{ captures: Captures; failed: boolean }>;
  local: Captures;
  failed: boolean;
  /**
   * Paused at a `runbook` step whose child waits (for approval, or runs after one): the child's
   * id and the step's result row, which the resumed step finishes with the child's outcome.
   */
  child?: { id: string; row: string; startedAt: string };
  /** Running time before this pause (and earlier ones): the runbook `timeout` counts only that. */
  elapsedMs?: number;
}

/**
 * Thrown by a `runbook` step's child run when the child waits for approval: the workflow
 * checkpoints at the step (`Paused` with `checkpoint.child`) and the parent lets its worker go.
 */
export class WaitingForChild extends Error {
  row?: ExecutionResultEntity;
  constructor(readonly childId: string) {
    super(`waiting for child execution ${childId}`);
  }
}

/** How an `approval` step was decided. */
export interface ApprovalDecision {
  approved: boolean;
  choice: string | null;
  /** Who decided and how, for the log (and the step's error when not approved). */
  summary: string;
}

/**
 * The run waits at an `approval` step: thrown out of `runWorkflow` with the checkpoint; the
 * runner records the request, lets the run go and resumes from the checkpoint on the decision.
 */
export class Paused extends Error {
  constructor(
    readonly step: StepDefinition,
    readonly batch: number,
    readonly checkpoint: WorkflowCheckpoint,
  ) {
    super(
      checkpoint.child
        ? `waiting for child execution ${checkpoint.child.id} at step ${step.name}`
        : `waiting for approval at step ${step.name}`,
    );
  }
}

interface NodeState {
  target: ExecutionTarget;
  captures: Captures;
  failed: boolean;
}

/** Why a run stopped early: canceled (by a person or shutdown) or the runbook's timeout. */
export class Aborted extends Error {
  /**
   * failed: the run cannot go on (output limit with action fail, database away too long);
   * interrupted: its worker is shutting down and the drain grace ran out.
   */
  constructor(
    readonly status: 'canceled' | 'timed_out' | 'failed' | 'interrupted',
    reason?: string,
  ) {
    super(reason ?? status);
  }
}

/** Where a step's commands go: the node's transport, or the Firebreak host for null. */
export interface StepTransport {
  exec(target: ExecutionTarget | null, command: string, opts: ExecOptions): Promise<ExecResult>;
  upload(target: ExecutionTarget, path: string, content: string, mode: number): Promise<void>;
  remove(target: ExecutionTarget, path: string): Promise<void>;
  /** Creates a 0700 directory (exclusive: fails if the path exists) / removes it and its files. */
  makePrivateDir(target: ExecutionTarget, path: string): Promise<void>;
  removeDir(target: ExecutionTarget, path: string): Promise<void>;
}

export interface WorkflowContext {
  def: RunbookDefinition;
  execution: ExecutionEntity;
  /** Option values, secure ones included (templates quote them; the log masks them). */
  options: Record<string, unknown>;
  secure: ReadonlySet<string>;
  log: (node: string | null, step: string | null, stream: LogStream, line: string) => void;
  /** The log's flow control, handed to every command so a flood pauses its producer. */
  backpressure?: Backpressure;
  /** Secure values, for commands to mask a long line before cutting it (the log masks lines). */
  mask?: LineMask;
  signal: AbortSignal;
  transport: StepTransport;
  /** Where http steps may go. */
  egress: Pick<EgressPolicy, 'fetch'>;
  results: Pick<ExecutionResultWriter, 'startStep' | 'finishStep'>;
  /**
   * The decision of an `approval` step in a batch, or null while there is none (the workflow
   * then throws `Paused`). Absent: approval steps fail.
   */
  approval?: (step: StepDefinition, batch: number) => Promise<ApprovalDecision | null>;
  /** Resume a run paused at an approval step from here. */
  resume?: WorkflowCheckpoint | null;
  /** Child executions for `runbook` steps (the runner's: start path, then run in this worker). */
  children?: { run(step: string, req: ChildRun): Promise<ChildOutcome> };
  /** False in a `between` gate and `onError`: no checkpoint there, so a child cannot be waited for. */
  waitable?: boolean;
  /** The result row of the `runbook` step a resumed run paused at (finished by that step). */
  resumedRow?: ExecutionResultEntity;
}

/**
 * A runbook's steps over its targets: batches by strategy (parallel, sequential, rolling), each
 * batch running every step in order; per step `when`, retries, captures and a result row per
 * node; `keepGoing` and `onError`. Returns false when anything failed. Step kinds are the
 * executors' business; this decides only what runs where and when.
 */
export async function runWorkflow(ctx: WorkflowContext): Promise<boolean> {
  const { def, execution, log, signal } = ctx;
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
        : rollingBatchSize(
            renderText(String(def.targets?.batchSize ?? 1), { options: ctx.options }).text,
            states.length,
          );
  const batches: NodeState[][] = [];
  for (let i = 0; i < states.length; i += batchSize) batches.push(states.slice(i, i + batchSize));
  if (batches.length === 0) batches.push([]);
  const keepGoing = def.targets?.keepGoing ?? false;
  const resume = ctx.resume ?? null;
  // With maxFailures, a failed node does not stop the others; the count is checked after each batch.
  const tolerated =
    def.targets?.maxFailures === undefined
      ? undefined
      : failuresTolerated(def.targets.maxFailures, states.length);
  const between = strategy === 'parallel' ? undefined : def.targets?.between;
  let localCaptures: Captures = {};

  let failed = false;
  if (resume) {
    states.forEach((s, i) => Object.assign(s, resume.nodes[i]));
    localCaptures = resume.local;
    failed = resume.failed;
    if (resume.child)
      ctx.resumedRow = Object.assign(new ExecutionResultEntity(), {
        id: resume.child.row,
        executionId: execution.id,
        step: def.steps[resume.step]?.name,
        node: null,
        status: 'running' as const,
        exitCode: null,
        attempt: 1,
        error: null,
        startedAt: new Date(resume.child.startedAt),
        finishedAt: null,
        durationMs: null,
      });
  }
  const checkpoint = (batch: number, step: number): WorkflowCheckpoint => ({
    batch,
    step,
    nodes: states.map((s) => ({ captures: s.captures, failed: s.failed })),
    local: localCaptures,
    failed,
  });
  for (const [b, batch] of batches.entries()) {
    if (resume && b < resume.batch) continue;
    if (batches.length > 1 && !(resume && b === resume.batch))
      log(
        null,
        null,
        'system',
        `batch ${b + 1}/${batches.length}: ${batch.map((s) => s.target.name).join(', ')}`,
      );
    let stop = false;
    for (const [i, step] of def.steps.entries()) {
      if (resume && b === resume.batch && i < resume.step) continue;
      throwIfAborted(signal);
      let ok: boolean;
      try {
        ok = step.approval
          ? await runApproval(step, b, batch, localCaptures, ctx, () => checkpoint(b, i))
          : await runStep(step, batch, localCaptures, ctx);
      } catch (err) {
        if (!(err instanceof WaitingForChild) || !err.row) throw err;
        throw new Paused(step, b, {
          ...checkpoint(b, i),
          child: { id: err.childId, row: err.row.id, startedAt: err.row.startedAt.toISOString() },
        });
      }
      if (!ok) {
        failed = true;
        // A failed step on the Firebreak host is no node's failure: it stops the rollout.
        if (tolerated !== undefined && runsLocally(step) && !keepGoing) stop = true;
        if (batch.every((s) => s.failed) || (!keepGoing && tolerated === undefined) || stop) break;
      }
    }
    const rest = batches.slice(b + 1).flat();
    const notStarted = () =>
      rest.length ? `; not started: ${rest.map((s) => s.target.name).join(', ')}` : '';
    if (tolerated !== undefined) {
      const down = states.filter((s) => s.failed).length;
      if (down > tolerated || stop) {
        log(
          null,
          null,
          'system',
          `stopping the rollout: ${stop ? 'a step on the Firebreak host failed' : `${down} node(s) failed, more than maxFailures ${def.targets!.maxFailures} allows (${tolerated})`}${notStarted()}`,
        );
        break;
      }
    } else if (failed && !keepGoing) break;
    if (between && rest.length) {
      throwIfAborted(signal);
      log(null, null, 'system', `gate ${between.name} after batch ${b + 1}/${batches.length}`);
      if (!(await runStep(between, batch, localCaptures, { ...ctx, waitable: false }))) {
        failed = true;
        log(
          null,
          null,
          'system',
          `stopping the rollout: gate ${between.name} failed after batch ${b + 1}/${batches.length}${notStarted()}`,
        );
        break;
      }
    }
  }
  if (failed && def.onError?.length) {
    log(null, null, 'system', 'running onError steps');
    const failedNodes = states.filter((s) => s.failed);
    for (const step of def.onError) {
      if (signal.aborted) break;
      await runStep(
        step,
        failedNodes.length ? failedNodes.map((s) => ({ ...s, failed: false })) : states,
        localCaptures,
        { ...ctx, waitable: false },
      );
    }
  }
  return !failed;
}

/**
 * An `approval` step (once per batch, on the host): `when` as usual; without a decision yet the
 * run pauses (`Paused`, nothing recorded for the step); approved: the choice is readable as
 * `steps.NAME.choice` by later steps; rejected or timed out: the step fails.
 */
async function runApproval(
  step: StepDefinition,
  batch: number,
  nodes: NodeState[],
  localCaptures: Captures,
  ctx: WorkflowContext,
  checkpoint: () => WorkflowCheckpoint,
): Promise<boolean> {
  if (
    !ctx.approval ||
    (step.when && !testCondition(step.when, conditionValues(ctx, localCaptures)))
  )
    return (
      (await runOnce(step, null, localCaptures, ctx)) !== 'failed' || Boolean(step.continueOnError)
    );
  const decision = await ctx.approval(step, batch);
  if (!decision) throw new Paused(step, batch, checkpoint());
  const result = await ctx.results.startStep(ctx.execution.id, step.name, null);
  if (decision.approved) {
    ctx.log(null, step.name, 'system', decision.summary);
    const value = { captures: {}, ...(decision.choice ? { choice: decision.choice } : {}) };
    localCaptures[step.name] = value;
    for (const s of nodes) s.captures[step.name] = value;
  } else {
    ctx.log(null, step.name, 'system', `failed: ${decision.summary}`);
  }
  await ctx.results.finishStep(result, {
    status: decision.approved ? 'succeeded' : 'failed',
    exitCode: null,
    error: decision.approved ? null : decision.summary,
    attempt: 1,
  });
  return decision.approved || Boolean(step.continueOnError);
}

function conditionValues(ctx: WorkflowContext, steps: Captures) {
  return { options: ctx.options, node: null, steps };
}

/**
 * A rolling batch size as rendered: a number, or a share of the targets ("25%": rounded up);
 * at least 1.
 */
export function rollingBatchSize(rendered: string, targets: number): number {
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(rendered);
  if (pct) return Math.max(1, Math.ceil((targets * Number(pct[1])) / 100));
  return Math.max(1, Math.floor(Number(rendered)) || 1);
}

/** How many failed nodes `maxFailures` tolerates: a count, or a percentage of the targets. */
export function failuresTolerated(maxFailures: number | string, targets: number): number {
  if (typeof maxFailures === 'number') return maxFailures;
  return Math.floor((targets * Number(maxFailures.replace('%', ''))) / 100);
}

/** Whether a step runs once on the Firebreak host rather than on each target. */
export function runsLocally(step: StepDefinition): boolean {
  const kind = stepKind(step);
  return (
    kind === 'sleep' ||
    kind === 'approval' ||
    kind === 'runbook' ||
    (step.on ?? (step.http || step.check?.http ? 'local' : 'targets')) === 'local'
  );
}

/** One step on a batch: once on the host for local/sleep steps, else on every live node. */
async function runStep(
  step: StepDefinition,
  batch: NodeState[],
  localCaptures: Captures,
  ctx: WorkflowContext,
): Promise<boolean> {
  if (runsLocally(step)) {
    const live = batch.filter((s) => !s.failed).map((s) => s.target);
    const outcome = await runOnce(step, null, localCaptures, ctx, live);
    return outcome !== 'failed' || Boolean(step.continueOnError);
  }
  const live = batch.filter((s) => !s.failed);
  const maxParallel = ctx.def.targets?.maxParallel ?? DEFAULT_MAX_PARALLEL;
  const outcomes = await mapLimit(live, maxParallel, async (state) => {
    const outcome = await runOnce(step, state.target, state.captures, ctx);
    if (outcome === 'failed' && !step.continueOnError) state.failed = true;
    return outcome;
  });
  return outcomes.every((o) => o !== 'failed') || Boolean(step.continueOnError);
}

/** A step on one node (or locally), with `when`, retries and captures, and its result row. */
async function runOnce(
  step: StepDefinition,
  target: ExecutionTarget | null,
  captures: Captures,
  ctx: WorkflowContext,
  nodes: readonly ExecutionTarget[] = [],
): Promise<Outcome> {
  const values: TemplateValues = {
    options: ctx.options,
    secureOptions: ctx.secure,
    steps: captures,
    execution: { id: ctx.execution.id, actor: ctx.execution.actorName },
    ...(target ? { node: nodeValues(target) } : {}),
  };
  const nodeName = target?.name ?? null;
  // A run resumed at a `runbook` step finishes the row its first part started.
  const resumed = ctx.resumedRow?.step === step.name ? ctx.resumedRow : undefined;
  ctx.resumedRow = undefined;
  const result = resumed ?? (await ctx.results.startStep(ctx.execution.id, step.name, nodeName));
  if (
    step.when &&
    !testCondition(step.when, { options: ctx.options, node: values.node ?? null, steps: captures })
  ) {
    ctx.log(nodeName, step.name, 'system', `skipped: ${step.when} is false`);
    await ctx.results.finishStep(result, {
      status: 'skipped',
      exitCode: null,
      error: null,
      attempt: 1,
    });
    return 'skipped';
  }
  let retry: { attempts: number; delayMs: number };
  try {
    retry = stepRetry(step, ctx.options);
  } catch (err) {
    const error = (err as Error).message;
    ctx.log(nodeName, step.name, 'system', `failed: ${error}`);
    await ctx.results.finishStep(result, { status: 'failed', exitCode: null, error, attempt: 1 });
    return 'failed';
  }
  const attempts = retry.attempts;
  let last: StepAttempt = { ok: false, exitCode: null, error: 'not run', output: '' };
  let used = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    throwIfAborted(ctx.signal);
    used = attempt;
    if (attempt > 1) {
      ctx.log(
        nodeName,
        step.name,
        'system',
        `attempt ${attempt}/${attempts}: ${last.error ?? 'failed'}`,
      );
      await sleep(retry.delayMs, ctx.signal);
    }
    try {
      last = await attemptStep(step, target, values, ctx, nodes);
    } catch (err) {
      if (err instanceof WaitingForChild) err.row = result; // the row stays running meanwhile
      throw err;
    }
    if (last.ok || last.fatal) break;
  }
  if (last.ok && step.capture) {
    const { values: got, missing } = extractCaptures(step.capture, last.output);
    if (missing.length) {
      last = { ...last, ok: false, error: `capture ${missing.join(', ')} not found in the output` };
    } else {
      captures[step.name] = { captures: got };
    }
  }
  throwIfAborted(ctx.signal);
  if (!last.ok) ctx.log(nodeName, step.name, 'system', `failed: ${last.error}`);
  await ctx.results.finishStep(result, {
    status: last.ok ? 'succeeded' : last.timedOut ? 'timed_out' : 'failed',
    exitCode: last.exitCode,
    error: last.ok ? null : (last.error ?? null),
    attempt: used,
  });
  return last.ok ? 'ok' : 'failed';
}

/** One attempt through the step kind's executor; a connection failure is not worth a retry. */
async function attemptStep(
  step: StepDefinition,
  target: ExecutionTarget | null,
  values: TemplateValues,
  ctx: WorkflowContext,
  nodes: readonly ExecutionTarget[],
): Promise<StepAttempt> {
  const kind = stepKind(step);
  const executor = STEP_EXECUTORS[kind];
  if (!executor)
    return {
      ok: false,
      fatal: true,
      exitCode: null,
      error: `${kind} steps are not supported by this engine yet`,
      output: '',
    };
  const nodeName = target?.name ?? null;
  const timeoutMs = step.timeout ? durationMs(step.timeout) : undefined;
  const log = (stream: LogStream, line: string) => ctx.log(nodeName, step.name, stream, line);
  const call: StepCall = {
    step,
    node: nodeName,
    values,
    executionId: ctx.execution.id,
    timeoutMs,
    signal: ctx.signal,
    log,
    fetch: (url, init) => ctx.egress.fetch(url, init),
    async shell(command) {
      log('system', `$ ${command.display}`);
      const lines: string[] = [];
      let bytes = 0;
      const result = await ctx.transport.exec(target, command.text, {
        timeoutMs,
        signal: ctx.signal,
        backpressure: ctx.backpressure,
        mask: ctx.mask,
        onLine: (stream, line) => {
          log(stream, line);
          if (stream === 'stdout' && bytes < MAX_CAPTURE_BYTES) {
            lines.push(line);
            bytes += line.length + 1;
          }
        },
      });
      return { result, stdout: lines.join('\n') };
    },
    upload: (path, content, mode) => ctx.transport.upload(requireNode(target), path, content, mode),
    remove: (path) => ctx.transport.remove(requireNode(target), path),
    makePrivateDir: (path) => ctx.transport.makePrivateDir(requireNode(target), path),
    removeDir: (path) => ctx.transport.removeDir(requireNode(target), path),
    nodes,
    runChild: (req) =>
      ctx.children
        ? ctx.children.run(step.name, { ...req, canWait: ctx.waitable !== false })
        : Promise.resolve({ id: null, status: 'failed', error: 'runbook steps cannot run here' }),
  };
  try {
    return await executor.execute(call);
  } catch (err) {
    if (err instanceof WaitingForChild) throw err;
    if (err instanceof Aborted || ctx.signal.aborted)
      throw err instanceof Aborted ? err : (ctx.signal.reason as Error);
    if (err instanceof SshError)
      return { ok: false, fatal: true, exitCode: null, error: err.message, output: '' };
    return { ok: false, exitCode: null, error: (err as Error).message, output: '' };
  }
}

function requireNode(target: ExecutionTarget | null): ExecutionTarget {
  if (!target) throw new Error('files can only be written on a node');
  return target;
}

/** The node's fields for templates and conditions, as resolved when the execution started. */
function nodeValues(target: ExecutionTarget): NonNullable<TemplateValues['node']> {
  return {
    name: target.name,
    hostname: target.hostname,
    port: target.port ?? 22,
    user: target.user ?? '',
    attributes: target.attributes ?? {},
  };
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw signal.reason instanceof Aborted ? signal.reason : new Aborted('canceled');
}
