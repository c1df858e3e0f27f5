import { renderShell } from '../../runbooks/template.js';
import { fromExec, type StepCall, type StepExecutor } from './step-executor.js';

/** `run:` one shell command, every templated value quoted as one word. */
export const runExecutor: StepExecutor = {
  kind: 'run',
  async execute(call: StepCall) {
    const { result, stdout } = await call.shell(renderShell(call.step.run!, call.values));
    return fromExec(result, stdout, call.timeoutMs);
  },
};
