import { durationMs } from '../../runbooks/runbook.schema.js';
import { sleep, type StepCall, type StepExecutor } from './step-executor.js';

/** `sleep:` waits, and stops waiting on cancel or timeout. */
export const sleepExecutor: StepExecutor = {
  kind: 'sleep',
  async execute(call: StepCall) {
    call.log('system', `sleeping ${call.step.sleep}`);
    await sleep(durationMs(call.step.sleep!), call.signal);
    return { ok: true, exitCode: null, output: '' };
  },
};
