import { renderStructured, templateRefs } from '../../runbooks/template.js';
import type { StepCall, StepExecutor } from './step-executor.js';

/**
 * `runbook:` another runbook as a child execution of this one: options rendered from the
 * caller's options and captures, on the caller's nodes (the batch's live ones, default) or the
 * child's own targets. The step succeeds iff the child succeeded.
 */
export const runbookExecutor: StepExecutor = {
  kind: 'runbook',
  async execute(call: StepCall) {
    const spec = call.step.runbook!;
    const options = renderStructured(spec.options ?? {}, call.values).value as Record<
      string,
      unknown
    >;
    const secure = call.values.secureOptions ?? new Set<string>();
    const secureFrom = Object.entries(spec.options ?? {})
      .filter(([, v]) =>
        templateRefs(v).some((r) => r.path[0] === 'options' && secure.has(r.path[1])),
      )
      .map(([k]) => k);
    const own = spec.targets === 'own';
    const stepTimeout = call.timeoutMs ? AbortSignal.timeout(call.timeoutMs) : undefined;
    const child = await call.runChild({
      runbook: spec.name,
      version: spec.version,
      options,
      nodes: own ? undefined : call.nodes.map((n) => n.name),
      secureFrom,
      signal: stepTimeout ? AbortSignal.any([call.signal, stepTimeout]) : call.signal,
    });
    if (child.status === 'succeeded') return { ok: true, exitCode: null, output: '' };
    const timedOut = Boolean(stepTimeout?.aborted);
    return {
      ok: false,
      // Refused before it existed (access, options, approval, depth): no point retrying.
      fatal: child.id === null,
      timedOut,
      exitCode: null,
      error: child.id
        ? `child execution ${child.id} (${spec.name}) ${timedOut ? `stopped: the step's timeout of ${call.timeoutMs} ms` : child.status}${child.error ? `: ${child.error}` : ''}`
        : `runbook ${spec.name}: ${child.error}`,
      output: '',
    };
  },
};
