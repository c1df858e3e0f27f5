import type { StepDefinition, StepKind } from '../../runbooks/runbook.schema.js';
import type { TemplateValues } from '../../runbooks/template.js';
import type { LogStream } from '../execution-log.entity.js';
import type { EgressPolicy } from '../egress.js';
import type { ExecutionTarget } from '../execution.entity.js';
import type { ExecResult } from '../transports/exec.js';

/** Stdout kept per attempt for captures and checks (the log keeps everything). */
export const MAX_CAPTURE_BYTES = 1024 * 1024;

/** The outcome of one attempt of one step on one node (or once, locally). */
export interface StepAttempt {
  ok: boolean;
  exitCode: number | null;
  error?: string;
  /** Stdout (or the HTTP body), for captures. */
  output: string;
  timedOut?: boolean;
  /** No point retrying (cannot connect, unsupported). */
  fatal?: boolean;
}

/** A `runbook` step's request for a child execution. */
export interface ChildRun {
  runbook: string;
  version?: number;
  options: Record<string, unknown>;
  /** The caller's nodes to run it on; undefined: the child's own targets. */
  nodes?: string[];
  /** Child options that get a secure value of the caller. */
  secureFrom: string[];
  /** Stops the child (the parent's cancel, timeout or the step's timeout). */
  signal: AbortSignal;
  /** Whether the parent may pause here while the child waits for approval (set by the workflow). */
  canWait?: boolean;
}

/** How a child ended; `id` null when it was refused before it existed (access, options, depth). */
export interface ChildOutcome {
  id: string | null;
  status: string;
  error: string | null;
}

/**
 * What an executor gets for one attempt: the step, its rendered-on-demand values, and the
 * runner's means to act on the step's node — never a transport, a repository or the log table.
 */
export interface StepCall {
  step: StepDefinition;
  /** The node's name; null when the step runs once on the Firebreak host. */
  node: string | null;
  values: TemplateValues;
  executionId: string;
  timeoutMs: number | undefined;
  signal: AbortSignal;
  log(stream: LogStream, line: string): void;
  /** HTTP under the service's egress policy (see egress.ts): the only way a step sends a request. */
  fetch: EgressPolicy['fetch'];
  /**
   * Runs a command through the node's transport (SSH, or local when `node` is null): logs
   * `$ display`, streams each output line to the log, keeps stdout (up to MAX_CAPTURE_BYTES).
   */
  shell(command: {
    text: string;
    display: string;
  }): Promise<{ result: ExecResult; stdout: string }>;
  /** Writes a file on the node (SSH only). */
  upload(path: string, content: string, mode: number): Promise<void>;
  remove(path: string): Promise<void>;
  /** A 0700 directory only this run's user can enter (exclusive create) / its removal. */
  makePrivateDir(path: string): Promise<void>;
  removeDir(path: string): Promise<void>;
  /** The live nodes of the batch a step run once on the host stands for (runbook steps). */
  nodes: readonly ExecutionTarget[];
  /** Starts another runbook as a child execution, runs it in this worker, and says how it ended. */
  runChild(req: ChildRun): Promise<ChildOutcome>;
}

/** One per step kind; the runner picks it by `stepKind(step)`. */
export interface StepExecutor {
  readonly kind: StepKind;
  execute(call: StepCall): Promise<StepAttempt>;
}

/** A finished command as an attempt: exit 0 is success; a timeout or a signal says so. */
export function fromExec(
  r: ExecResult,
  stdout: string,
  timeoutMs: number | undefined,
): StepAttempt {
  if (r.timedOut)
    return {
      ok: false,
      timedOut: true,
      exitCode: r.exitCode,
      error: `timed out after ${timeoutMs} ms`,
      output: stdout,
    };
  if (r.exitCode === 0) return { ok: true, exitCode: 0, output: stdout };
  return {
    ok: false,
    exitCode: r.exitCode,
    error: r.signal ? `killed by signal ${r.signal}` : `exit code ${r.exitCode}`,
    output: stdout,
  };
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
