import { z } from 'zod';
import { nodeFilterSchema } from '../nodes/node-filter.schema.js';

/**
 * The runbook format: the single source of truth. The loader validates against it, the API and
 * the engine use its types, and `docs/runbook.schema.json` (for editors) is generated from it.
 */

export const NAME_RE = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const STEP_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const OPTION_NAME_RE = /^[a-z][a-z0-9_]{0,62}$/;
export const DURATION_RE = /^(\d+(\.\d+)?)(ms|s|m|h)$/;

const duration = z
  .string()
  .regex(DURATION_RE, 'expected a duration such as 500ms, 30s, 15m or 2h')
  .describe('Duration: 500ms, 30s, 15m, 2h');

/** Who: a built-in role (that role or higher), a group name, or `user:NAME`. */
const principalRef = z
  .string()
  .regex(/^(user:)?[a-z0-9][a-z0-9._-]{0,63}$/, 'expected a role, a group, or user:NAME')
  .describe(
    'A role (viewer, responder, operator, admin: that role or higher), a group, or user:NAME',
  );

const optionBase = {
  name: z.string().regex(OPTION_NAME_RE, 'expected lower_snake_case starting with a letter'),
  description: z.string().max(500).optional(),
  required: z.boolean().optional(),
};

export const optionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...optionBase,
    type: z.literal('string'),
    default: z.string().optional(),
    pattern: z.string().optional().describe('Regular expression the whole value must match'),
    allowLeadingDash: z
      .boolean()
      .optional()
      .describe(
        'Allow a value starting with "-" (refused by default: a command would read it as an option)',
      ),
    min: z.number().int().min(0).optional().describe('Minimum length'),
    max: z.number().int().min(0).optional().describe('Maximum length (default 1024)'),
  }),
  z.strictObject({
    ...optionBase,
    type: z.literal('integer'),
    default: z.number().int().optional(),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
  }),
  z.strictObject({
    ...optionBase,
    type: z.literal('number'),
    default: z.number().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  }),
  z.strictObject({ ...optionBase, type: z.literal('boolean'), default: z.boolean().optional() }),
  z.strictObject({
    ...optionBase,
    type: z.literal('enum'),
    values: z.array(z.string().min(1)).min(1),
    default: z.string().optional(),
  }),
  z.strictObject({
    ...optionBase,
    type: z.literal('list'),
    default: z.array(z.string()).optional(),
    values: z.array(z.string().min(1)).min(1).optional().describe('Allowed items'),
    pattern: z.string().optional().describe('Regular expression every item must match'),
    allowLeadingDash: z
      .boolean()
      .optional()
      .describe(
        'Allow items starting with "-" (refused by default: a command would read them as options)',
      ),
    min: z.number().int().min(0).optional().describe('Minimum number of items'),
    max: z.number().int().min(0).optional().describe('Maximum number of items (default 100)'),
  }),
  z
    .strictObject({
      ...optionBase,
      type: z.literal('secure'),
      pattern: z.string().optional(),
      allowLeadingDash: z
        .boolean()
        .optional()
        .describe(
          'Allow a value starting with "-" (refused by default: a command would read it as an option)',
        ),
      min: z.number().int().min(0).optional(),
      max: z.number().int().min(0).optional(),
    })
    .describe('A secret: never echoed, masked in every log, response, plan and audit entry'),
]);

const OPTION_REF_RE = /^\{\{\s*options\.([a-z][a-z0-9_]*)\s*\}\}$/;

/** A single `{{ options.NAME }}` reference, rendered when the step runs. */
const optionRef = z.string().regex(OPTION_REF_RE, 'expected a single {{ options.NAME }}');

/** The option a value that is exactly `{{ options.NAME }}` names, else undefined. */
export function optionRefName(v: unknown): string | undefined {
  return typeof v === 'string' ? OPTION_REF_RE.exec(v)?.[1] : undefined;
}

const retrySchema = z.strictObject({
  attempts: z
    .union([z.number().int().min(1).max(100), optionRef], {
      error: 'expected 1-100 or a single {{ options.NAME }}',
    })
    .describe('1-100, or {{ options.NAME }} (an integer option)'),
  delay: z
    .union([duration, optionRef], {
      error: 'expected a duration such as 500ms, 30s or 15m, or a single {{ options.NAME }}',
    })
    .optional()
    .describe('Duration between attempts, or {{ options.NAME }} (a duration such as 30s)'),
});

const captureSchema = z.union([
  z.strictObject({
    regex: z.string().min(1).describe('First group (or whole match) from stdout / body'),
  }),
  z.strictObject({
    json: z.string().min(1).describe('JSON path into stdout / body, e.g. $.model.version'),
  }),
  z.strictObject({ line: z.number().int().min(1).describe('Nth line of stdout') }),
]);

const httpRequestSchema = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).optional(),
  url: z.string().min(1),
  headers: z.record(z.string(), z.string()).optional(),
  json: z.unknown().optional().describe('JSON body'),
  body: z.string().optional().describe('Raw body'),
  expect: z.strictObject({ status: z.array(z.number().int().min(100).max(599)).min(1) }).optional(),
});

/** A number, or a template that renders to one (e.g. '{{ options.max_error_rate }}'). */
const threshold = z.union([
  z.number(),
  z.string().regex(/^\{\{[^}]+\}\}$/, 'expected a number or a single {{ reference }}'),
]);

const jsonAssertion = z.strictObject({
  path: z
    .string()
    .regex(
      /^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*$/,
      'expected a JSON path such as $.model.version or $.items[0].id',
    ),
  eq: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  ne: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  lt: threshold.optional(),
  lte: threshold.optional(),
  gt: threshold.optional(),
  gte: threshold.optional(),
  matches: z.string().optional(),
});

const checkSchema = z.strictObject({
  run: z.string().min(1).optional(),
  http: httpRequestSchema.optional(),
  expect: z.strictObject({
    exitCode: z.number().int().optional(),
    status: z.array(z.number().int()).optional(),
    stdout: z.string().optional().describe('Regular expression stdout (or the body) must match'),
    json: z.array(jsonAssertion).optional(),
  }),
});

/** How many must approve, how long it may wait and what then, how often to remind. */
const approvalRules = {
  required: z.number().int().min(1).max(10).optional().describe('Approvals needed (default 1)'),
  timeout: duration.optional().describe('How long a decision may take (default: no limit)'),
  onTimeout: z
    .enum(['reject', 'fail'])
    .optional()
    .describe('When the timeout passes: reject (default) or fail'),
  remindEvery: duration.optional().describe('Remind the approvers this often while waiting'),
};

const stepBase = {
  name: z.string().regex(STEP_NAME_RE, 'expected lower-case letters, digits, - or _'),
  description: z.string().max(500).optional(),
  on: z
    .enum(['local', 'targets'])
    .optional()
    .describe('Where it runs: on each target node (default) or on the Firebreak host'),
  timeout: duration.optional(),
  retry: retrySchema.optional(),
  continueOnError: z.boolean().optional(),
  when: z.string().min(1).optional().describe('Condition; the step is skipped when false'),
  capture: z.record(z.string().regex(OPTION_NAME_RE), captureSchema).optional(),
};

export const STEP_KINDS = [
  'run',
  'script',
  'http',
  'check',
  'approval',
  'runbook',
  'sleep',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const stepSchema = z.strictObject({
  ...stepBase,
  run: z
    .string()
    .min(1)
    .optional()
    .describe('A shell command; every templated value is quoted as one word'),
  script: z.string().min(1).optional().describe('A multi-line script, uploaded, run and removed'),
  interpreter: z
    .string()
    .regex(/^\/[\w./-]+$/)
    .optional()
    .describe('Script interpreter (default /bin/sh)'),
  http: httpRequestSchema.optional(),
  check: checkSchema.optional(),
  approval: z
    .strictObject({
      message: z.string().min(1),
      approvers: z.array(principalRef).min(1).optional(),
      ...approvalRules,
      choices: z
        .array(z.string().regex(STEP_NAME_RE, 'expected lower-case letters, digits, - or _'))
        .min(2)
        .optional()
        .describe(
          'What an approver picks (e.g. [continue, rollback]); later steps read steps.NAME.choice',
        ),
    })
    .optional(),
  runbook: z
    .strictObject({
      name: z.string().regex(NAME_RE),
      version: z.number().int().min(1).optional(),
      options: z
        .record(z.string(), z.unknown())
        .optional()
        .describe("The child's options: values or templates of the caller's options and captures"),
      targets: z
        .enum(['caller', 'own'])
        .optional()
        .describe(
          "caller (default): the caller's nodes the step runs for; own: the child's own targets",
        ),
    })
    .optional()
    .describe('Another runbook, run as a child execution of this one'),
  sleep: duration.optional(),
});

/** "25%": a share of the matched nodes. */
export const PERCENT_RE = /^(100|[1-9]?\d)%$/;

export const targetsSchema = z.strictObject({
  nodes: nodeFilterSchema.optional(),
  strategy: z.enum(['parallel', 'sequential', 'rolling']).optional(),
  batchSize: z
    .union([z.number().int().min(1), z.string().min(1)])
    .optional()
    .describe(
      'Rolling batch size: a number, a share of the matched nodes ("25%", rounded up, at least 1), or a template',
    ),
  maxFailures: z
    .union([
      z.number().int().min(0),
      z.string().regex(PERCENT_RE, 'expected a count or a percentage such as 10%'),
    ])
    .optional()
    .describe(
      'Rolling: failed nodes tolerated (a count, or a percentage of the matched nodes); once more have failed, the remaining batches do not start',
    ),
  between: stepSchema
    .optional()
    .describe(
      'Rolling: a check (or runbook) step run after each batch but the last; the next batch starts only if it passes',
    ),
  maxParallel: z.number().int().min(1).max(1000).optional(),
  keepGoing: z.boolean().optional().describe('Continue on the other nodes when one fails'),
  allowEmpty: z.boolean().optional().describe('Succeed when no node matches instead of failing'),
});

export const triggerSchema = z.strictObject({
  alert: z.strictObject({
    match: z
      .record(z.string(), z.string())
      .describe('Label equality; a value /…/ is a regular expression'),
  }),
  options: z.record(z.string(), z.unknown()).optional(),
  targets: z.strictObject({ nodes: nodeFilterSchema }).optional(),
  autoRun: z
    .boolean()
    .optional()
    .describe(
      'A remediation runbook opts in to running automatically from matching alerts (diagnostics always may); it is still held for its approval',
    ),
  storm: z
    .strictObject({
      runs: z.number().int().min(1).max(10_000).describe('Automatic runs per node per window'),
      window: duration.refine(
        (d) => {
          const ms = durationMs(d);
          return ms % 1000 === 0 && ms >= 10_000 && ms <= 86_400_000;
        },
        { error: 'expected whole seconds from 10s to 24h, such as 15m' },
      ),
    })
    .optional()
    .describe(
      "This trigger's storm guard: at most `runs` automatic runs of the runbook per node per `window`, instead of the integration's runLimit",
    ),
});

export const SCHEDULE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const MISSED_POLICIES = ['skip', 'run-once', 'run-all'] as const;

/**
 * A cron schedule of the runbook. Cron, time zone and options are checked by the parser (cron
 * library, Intl, the runbook's options); the run request fields have a run request's shape.
 */
export const scheduleSchema = z.strictObject({
  name: z
    .string()
    .regex(SCHEDULE_NAME_RE, 'expected 1-48 lower-case letters, digits or dashes')
    .describe("Unique in the runbook; the schedule's id is RUNBOOK:NAME"),
  cron: z
    .string()
    .min(1)
    .max(200)
    .describe(
      'Cron expression: 5 fields (minute hour day month weekday), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly',
    ),
  timezone: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('IANA time zone the cron expression is read in (default UTC)'),
  options: z.record(z.string(), z.unknown()).optional().describe('Option values for each run'),
  targets: z
    .array(z.string().min(1).max(253))
    .max(1000)
    .optional()
    .describe("Narrow to these of the runbook's target nodes (node names), as a run request"),
  enabled: z.boolean().optional().describe('false: never fires (default true)'),
  missed: z
    .enum(MISSED_POLICIES)
    .optional()
    .describe(
      'Fire times missed while no process ran: skip (default, recorded), run-once (one catch-up run), run-all (one per missed time, up to maxCatchUp)',
    ),
  maxCatchUp: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe('run-all: catch-up runs at most (default 10); the older missed times are skipped'),
});

export const runbookSchema = z.strictObject({
  name: z.string().regex(NAME_RE, 'expected 2-63 lower-case letters, digits or dashes'),
  description: z.string().min(1).max(2000),
  kind: z
    .enum(['diagnostic', 'remediation'])
    .describe('diagnostic: read-only, may run automatically from alerts'),
  tags: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/)).optional(),
  access: z
    .strictObject({
      view: z.array(principalRef).optional(),
      run: z.array(principalRef).optional(),
      approve: z.array(principalRef).optional(),
    })
    .optional(),
  options: z.array(optionSchema).optional(),
  targets: targetsSchema.optional(),
  approval: z
    .strictObject({
      when: z.string().min(1).optional().describe('Condition per target node; absent: always'),
      approvers: z.array(principalRef).min(1).optional(),
      reason: z.string().max(500).optional(),
      ...approvalRules,
    })
    .optional(),
  timeout: duration.optional(),
  concurrency: z
    .strictObject({
      policy: z
        .enum(['allow', 'queue', 'reject'])
        .describe(
          'When another execution of this runbook is running: allow (default) runs anyway, queue waits for it to end, reject refuses the start (409)',
        ),
      scope: z
        .enum(['runbook', 'node'])
        .optional()
        .describe(
          'runbook (default): any other execution conflicts; node: only one sharing a target node',
        ),
    })
    .optional()
    .describe('What a start does while another execution of this runbook is running'),
  logLimit: z
    .strictObject({
      lines: z.number().int().min(1).optional().describe('stdout + stderr lines stored at most'),
      bytes: z
        .union([
          z.number().int().min(1),
          z.string().regex(/^\d+\s*(b|kb|mb|gb)?$/i, 'expected a size such as 10mb or 512kb'),
        ])
        .optional()
        .describe('stdout + stderr bytes stored at most: 1048576, 512kb, 10mb'),
      action: z
        .enum(['truncate', 'fail'])
        .optional()
        .describe('Past the limit: truncate (store no more output, say so) or fail the run'),
    })
    .optional()
    .describe("This runbook's output limit; it can only lower the service's LOG_MAX_* limits"),
  steps: z.array(stepSchema).min(1),
  onError: z.array(stepSchema).optional(),
  triggers: z.array(triggerSchema).optional(),
  schedules: z.array(scheduleSchema).max(20).optional(),
});

export type RunbookDefinition = z.infer<typeof runbookSchema>;
export type OptionDefinition = z.infer<typeof optionSchema>;
export type StepDefinition = z.infer<typeof stepSchema>;
export type ScheduleDefinition = z.infer<typeof scheduleSchema>;

export function stepKind(step: StepDefinition): StepKind {
  return STEP_KINDS.find((k) => step[k] !== undefined)!;
}

/** A `logLimit.bytes` value in bytes. */
export function sizeBytes(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(v.trim())!;
  return (
    Number(m[1]) *
    { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b']
  );
}

/**
 * A step's retry with option references resolved: attempts 1-100 and a delay in ms (1 s when
 * absent). Throws a message naming the step and the bad value: the start path calls it to refuse
 * such options before anything runs, the workflow as a backstop.
 */
export function stepRetry(
  step: Pick<StepDefinition, 'name' | 'retry'>,
  options: Record<string, unknown>,
): { attempts: number; delayMs: number } {
  if (!step.retry) return { attempts: 1, delayMs: 1000 };
  const value = (v: number | string): unknown => {
    if (typeof v === 'number') return v;
    const ref = optionRefName(v);
    return ref ? options[ref] : v;
  };
  const attempts = value(step.retry.attempts);
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1 || attempts > 100)
    throw new Error(
      `step ${step.name}: retry.attempts ${String(step.retry.attempts)} is ${JSON.stringify(attempts ?? null)}, expected an integer from 1 to 100`,
    );
  if (step.retry.delay === undefined) return { attempts, delayMs: 1000 };
  const delay = value(step.retry.delay);
  if (typeof delay !== 'string' || !DURATION_RE.test(delay))
    throw new Error(
      `step ${step.name}: retry.delay ${step.retry.delay} is ${JSON.stringify(delay ?? null)}, expected a duration such as 500ms, 30s or 15m`,
    );
  return { attempts, delayMs: durationMs(delay) };
}

export function durationMs(d: string): number {
  const m = DURATION_RE.exec(d)!;
  const n = Number(m[1]);
  return Math.round(
    n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[3] as 'ms' | 's' | 'm' | 'h'],
  );
}

/** JSON Schema for editors (`# yaml-language-server: $schema=…`). */
export function runbookJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(runbookSchema, { target: 'draft-2020-12', unrepresentable: 'any' }),
    $id: 'https://firebreak.dev/schemas/runbook.schema.json',
    title: 'Firebreak runbook',
  };
}
