import type { StepKind } from '../../runbooks/runbook.schema.js';
import { checkExecutor } from './check.executor.js';
import { httpExecutor } from './http.executor.js';
import { runExecutor } from './run.executor.js';
import { runbookExecutor } from './runbook.executor.js';
import { scriptExecutor } from './script.executor.js';
import { sleepExecutor } from './sleep.executor.js';
import type { StepExecutor } from './step-executor.js';

/** The executor of each step kind this engine runs; `approval` comes next. */
export const STEP_EXECUTORS: Partial<Record<StepKind, StepExecutor>> = Object.fromEntries(
  [runExecutor, scriptExecutor, checkExecutor, httpExecutor, sleepExecutor, runbookExecutor].map(
    (e) => [e.kind, e],
  ),
);
