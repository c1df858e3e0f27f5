import { randomBytes } from 'node:crypto';
import { renderShell, shellQuote } from '../../runbooks/template.js';
import { fromExec, type StepCall, type StepExecutor } from './step-executor.js';

/**
 * `script:` a script body run by its interpreter: on a node it is uploaded (0700) to a unique
 * path, run and removed; locally it is passed to the interpreter's `-c`.
 */
export const scriptExecutor: StepExecutor = {
  kind: 'script',
  async execute(call: StepCall) {
    const { step } = call;
    const interpreter = step.interpreter ?? '/bin/sh';
    const body = renderShell(step.script!, call.values);
    if (call.node === null) {
      const { result, stdout } = await call.shell({
        text: `${interpreter} -c ${shellQuote(body.text)}`,
        display: `${interpreter} <script ${step.name}>`,
      });
      return fromExec(result, stdout, call.timeoutMs);
    }
    const path = `/tmp/firebreak-${call.executionId.slice(0, 8)}-${step.name}-${randomBytes(4).toString('hex')}`;
    await call.upload(path, body.text, 0o700);
    try {
      const { result, stdout } = await call.shell({
        text: `${interpreter} ${path}`,
        display: `${interpreter} <script ${step.name}>`,
      });
      return fromExec(result, stdout, call.timeoutMs);
    } finally {
      await call.remove(path).catch(() => undefined);
    }
  },
};
