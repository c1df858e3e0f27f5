import { randomBytes } from 'node:crypto';
import { isShellInterpreter, scriptEnvironment } from '../../runbooks/script-env.js';
import { renderShell, shellQuote } from '../../runbooks/template.js';
import { fromExec, type StepCall, type StepExecutor } from './step-executor.js';

/**
 * `script:` a script body run by its interpreter: on a node it is uploaded (0700) into a fresh
 * private directory (exclusive `mkdir -m 700`), run, and removed with the directory; locally it is passed to the interpreter's `-c`.
 *
 * A POSIX shell script gets its values quoted into its text, as `run` does. Any other
 * interpreter (python, node, …) gets them as environment variables (`FIREBREAK_OPTION_NAME`, see
 * script-env.ts), set by quoted `NAME=value` words in front of the command, and its text is
 * never rendered: shell quoting means nothing to python, so a value there would be code.
 */
export const scriptExecutor: StepExecutor = {
  kind: 'script',
  async execute(call: StepCall) {
    const { step } = call;
    const interpreter = step.interpreter ?? '/bin/sh';
    const shell = isShellInterpreter(step.interpreter);
    const body = shell
      ? renderShell(step.script!, call.values)
      : { text: step.script!, display: step.script! };
    const env = shell
      ? ''
      : Object.entries(scriptEnvironment(call.values))
          .map(([k, v]) => `${k}=${shellQuote(v)} `)
          .join('');
    if (call.node === null) {
      const { result, stdout } = await call.shell({
        text: `${env}${interpreter} -c ${shellQuote(body.text)}`,
        display: `${interpreter} <script ${step.name}>`,
      });
      return fromExec(result, stdout, call.timeoutMs);
    }
    // A fresh 0700 directory made with an exclusive mkdir: no other user of the node can plant
    // the script's path first or read it while it runs. Removed with the script afterwards.
    const dir = `/tmp/firebreak-${randomBytes(16).toString('hex')}`;
    await call.makePrivateDir(dir);
    try {
      const path = `${dir}/script`;
      await call.upload(path, body.text, 0o700);
      const { result, stdout } = await call.shell({
        text: `${env}${interpreter} ${path}`,
        display: `${interpreter} <script ${step.name}>`,
      });
      return fromExec(result, stdout, call.timeoutMs);
    } finally {
      await call.removeDir(dir).catch(() => undefined);
    }
  },
};
