import { httpRequest } from './http.js';
import type { StepCall, StepExecutor } from './step-executor.js';

/** `http:` a request whose status must be 2xx, or one of `expect.status`. */
export const httpExecutor: StepExecutor = {
  kind: 'http',
  async execute(call: StepCall) {
    const spec = call.step.http!;
    const res = await httpRequest(spec, call);
    const expected = spec.expect?.status;
    const ok = expected ? expected.includes(res.status) : res.status >= 200 && res.status < 300;
    return ok
      ? { ok: true, exitCode: null, output: res.body }
      : {
          ok: false,
          exitCode: null,
          error: `HTTP ${res.status}${expected ? `, expected ${expected.join(' or ')}` : ''}`,
          output: res.body,
        };
  },
};
