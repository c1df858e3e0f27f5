import { isShellInterpreter } from './script-env.js';
import { test as testCondition } from './condition.js';
import { selectNodes, type TargetNode } from '../nodes/node-filter.js';
import type { ValidatedOptions } from './options.js';
import {
  durationMs,
  stepKind,
  optionRefName,
  stepRetry,
  type RunbookDefinition,
  type StepDefinition,
} from './runbook.schema.js';
import {
  MASK,
  renderShell,
  renderStructured,
  renderText,
  renderUrl,
  type TemplateValues,
} from './template.js';

export interface PlannedStep {
  name: string;
  kind: string;
  on: 'local' | 'targets' | null;
  /** The condition, and its value when it depends only on options and the node. */
  when?: { condition: string; decided: 'run' | 'skip' | 'at run time' };
  timeoutMs?: number;
  /** With option references resolved; as written when an option's value does not fit. */
  retry?: { attempts: number | string; delay?: string };
  continueOnError: boolean;
  /** Per node for steps on targets; one entry with node null for local steps. */
  actions: Array<{
    node: string | null;
    skip?: boolean;
    command?: string;
    request?: PlannedRequest;
    detail?: unknown;
  }>;
}

export interface PlannedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

export interface Plan {
  targets: Array<{ name: string; hostname: string; attributes: Record<string, string> }>;
  strategy: string;
  approval: { required: boolean; reasons: string[]; approvers: string[] };
  steps: PlannedStep[];
  onError: PlannedStep[];
  options: Record<string, unknown>;
}

const SECRET_HEADER =
  /^(authorization|proxy-authorization|cookie|x-api-key|.*token.*|.*secret.*)$/i;

/**
 * A dry run: the exact commands and requests per node, with secure values masked, and whether
 * approval would be required and why. Captures of earlier steps are unknown until the run and
 * show as <steps.NAME.captures.X>. Nothing is executed.
 */
export function planRunbook(
  def: RunbookDefinition,
  options: ValidatedOptions,
  nodes: readonly TargetNode[],
): Plan {
  const targets = selectNodes(def.targets?.nodes && withoutNames(def.targets.nodes), nodes);
  const base: TemplateValues = {
    options: options.values,
    secureOptions: options.secure,
    placeholders: true,
  };
  const approvers = def.approval?.approvers ?? def.access?.approve ?? ['admin'];
  const reasons: string[] = [];
  if (def.approval) {
    if (!def.approval.when)
      reasons.push(def.approval.reason ?? 'this runbook always requires approval');
    else {
      const matching = targets.filter((n) =>
        testCondition(def.approval!.when!, { options: options.values, node: nodeValues(n) }),
      );
      if (matching.length) {
        reasons.push(
          `${def.approval.reason ?? `approval.when (${def.approval.when})`} holds for ${matching.map((n) => n.name).join(', ')}`,
        );
      }
    }
  }
  for (const s of def.steps)
    if (s.approval) reasons.push(`step "${s.name}" pauses for a decision: ${s.approval.message}`);
  const planSteps = (steps: StepDefinition[]) => steps.map((s) => planStep(s, base, targets));
  return {
    targets: targets.map((n) => ({ name: n.name, hostname: n.hostname, attributes: n.attributes })),
    strategy: def.targets?.strategy ?? 'parallel',
    approval: { required: reasons.length > 0, reasons, approvers },
    steps: planSteps(def.steps),
    onError: planSteps(def.onError ?? []),
    options: Object.fromEntries(
      Object.entries(options.values).map(([k, v]) => [k, options.secure.has(k) ? MASK : v]),
    ),
  };
}

/** Names in the runbook's filter were already used to build the node list. */
function withoutNames(filter: NonNullable<NonNullable<RunbookDefinition['targets']>['nodes']>) {
  const rest = { ...filter };
  delete rest.names;
  return rest;
}

function nodeValues(n: TargetNode) {
  return {
    name: n.name,
    hostname: n.hostname,
    port: n.port,
    user: n.user,
    attributes: n.attributes,
  };
}

function planStep(
  step: StepDefinition,
  base: TemplateValues,
  targets: readonly TargetNode[],
): PlannedStep {
  const kind = stepKind(step);
  const runsOn: PlannedStep['on'] = ['run', 'script', 'http', 'check'].includes(kind)
    ? (step.on ?? (step.http || step.check?.http ? 'local' : 'targets'))
    : null;
  const perNode =
    runsOn === 'targets'
      ? targets.map((n) => ({ node: n.name, values: { ...base, node: nodeValues(n) } }))
      : [{ node: null, values: base }];
  const dependsOnSteps = step.when ? /\bsteps\./.test(step.when) : false;
  const actions = perNode.map(({ node, values }) => {
    const skip =
      step.when && !dependsOnSteps
        ? !testCondition(step.when, { options: values.options, node: values.node })
        : undefined;
    return { node, ...(skip ? { skip } : {}), ...describe(step, kind, values) };
  });
  const decided = !step.when
    ? undefined
    : dependsOnSteps
      ? 'at run time'
      : actions.every((a) => a.skip)
        ? 'skip'
        : 'run';
  return {
    name: step.name,
    kind,
    on: runsOn,
    ...(step.when
      ? { when: { condition: step.when, decided: decided as 'run' | 'skip' | 'at run time' } }
      : {}),
    ...(step.timeout ? { timeoutMs: durationMs(step.timeout) } : {}),
    ...(step.retry ? { retry: planRetry(step, base.options ?? {}) } : {}),
    continueOnError: step.continueOnError ?? false,
    actions,
  };
}

function planRetry(step: StepDefinition, options: Record<string, unknown>): PlannedStep['retry'] {
  const { attempts, delay } = step.retry!;
  // An option reference shows the option's value; a value that does not fit stays as written
  // (the start path refuses it).
  const resolve = (v: number | string) => {
    const ref = optionRefName(v);
    const value = ref ? options[ref] : v;
    return typeof value === 'number' || typeof value === 'string' ? value : v;
  };
  try {
    stepRetry(step, options);
  } catch {
    return { attempts, ...(delay ? { delay } : {}) };
  }
  return { attempts: resolve(attempts), ...(delay ? { delay: String(resolve(delay)) } : {}) };
}

function describe(step: StepDefinition, kind: string, values: TemplateValues) {
  switch (kind) {
    case 'run':
      return { command: renderShell(step.run!, values).display };
    case 'script':
      return {
        // Another interpreter's script is never rendered: it reads FIREBREAK_* variables.
        command: `${step.interpreter ?? '/bin/sh'} <<'SCRIPT'\n${isShellInterpreter(step.interpreter) ? renderShell(step.script!, values).display : step.script!}\nSCRIPT`,
      };
    case 'http':
      return { request: planRequest(step.http!, values) };
    case 'check':
      return step.check!.run
        ? {
            command: renderShell(step.check!.run, values).display,
            detail: { expect: step.check!.expect },
          }
        : {
            request: planRequest(step.check!.http!, values),
            detail: { expect: step.check!.expect },
          };
    case 'sleep':
      return { detail: { sleepMs: durationMs(step.sleep!) } };
    case 'approval':
      return {
        detail: {
          message: renderText(step.approval!.message, values).display,
          approvers: step.approval!.approvers ?? [],
        },
      };
    case 'runbook':
      return {
        detail: {
          runbook: step.runbook!.name,
          version: step.runbook!.version ?? 'current',
          options: renderStructured(step.runbook!.options ?? {}, values).display,
        },
      };
    default:
      return {};
  }
}

function planRequest(
  http: NonNullable<StepDefinition['http']>,
  values: TemplateValues,
): PlannedRequest {
  const headers = Object.fromEntries(
    Object.entries(http.headers ?? {}).map(([k, v]) => [
      k,
      SECRET_HEADER.test(k) ? MASK : renderText(v, values).display,
    ]),
  );
  return {
    method: http.method ?? (http.json !== undefined || http.body ? 'POST' : 'GET'),
    url: renderUrl(http.url, values).display,
    headers,
    ...(http.json !== undefined ? { body: renderStructured(http.json, values).display } : {}),
    ...(http.body ? { body: renderText(http.body, values).display } : {}),
  };
}
