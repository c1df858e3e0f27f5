import { renderShell, renderStructured } from '../../runbooks/template.js';
import { evaluateCheck } from '../step-output.js';
import { httpRequest } from './http.js';
import { fromExec, type StepAttempt, type StepCall, type StepExecutor } from './step-executor.js';

/** `check:` a command or an HTTP request whose exit code, status or output must meet `expect`. */
export const checkExecutor: StepExecutor = {
  kind: 'check',
  async execute(call: StepCall) {
    const check = call.step.check!;
    const expected = (v: unknown) => renderStructured(v, call.values).value;
    if (check.run) {
      const { result, stdout } = await call.shell(renderShell(check.run, call.values));
      if (result.timedOut) return fromExec(result, stdout, call.timeoutMs);
      const failures = evaluateCheck(
        check.expect,
        { exitCode: result.exitCode, output: stdout },
        expected,
      );
      return verdict(failures, result.exitCode, stdout);
    }
    const res = await httpRequest(check.http!, call);
    const failures = evaluateCheck(
      check.expect,
      { status: res.status, output: res.body },
      expected,
    );
    return verdict(failures, null, res.body);
  },
};

function verdict(failures: string[], exitCode: number | null, output: string): StepAttempt {
  return failures.length
    ? { ok: false, exitCode, error: `check failed: ${failures.join('; ')}`, output }
    : { ok: true, exitCode, output };
}
