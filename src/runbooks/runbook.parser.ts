import {
  formatPath,
  loadYamlSource,
  schemaProblem,
  sortProblems,
  type PathKey,
  type SchemaWording,
  type SourceProblem,
} from '../common/yaml-source.js';
import { conditionPaths, ConditionError, parseCondition } from './condition.js';
import { validateOptions } from './options.js';
import {
  DURATION_RE,
  optionRefName,
  runbookSchema,
  STEP_KINDS,
  stepKind,
  type OptionDefinition,
  type RunbookDefinition,
  type StepDefinition,
} from './runbook.schema.js';
import { cronProblem, zoneProblem } from '../common/cron.js';
import { didYouMean } from '../common/suggest.js';
import { isShellInterpreter, scriptEnvName } from './script-env.js';
import { evaluatedTemplateRefs, templateRulesOutShell } from './shell-eval.js';
import {
  checkPath,
  parseTemplate,
  templateRefs,
  unsafeTemplateRefs,
  type UnsafeShellContext,
  TemplateError,
  type TemplateScope,
} from './template.js';

export const MAX_RUNBOOK_BYTES = 256 * 1024;

/**
 * Whether a credential header holds literal secret text: anything left once the templates are
 * removed, other than an auth scheme (`Bearer `) or cookie names (`session=`).
 */
function hasLiteralSecret(value: string): boolean {
  const literal = value.replace(/\{\{[^}]*\}\}/g, '').trim();
  return !(
    literal === '' ||
    /^(Bearer|Basic|Token|Bot)$/i.test(literal) ||
    /^([A-Za-z0-9_.-]+=\s*;?\s*)+$/.test(literal)
  );
}

const UNSAFE_MESSAGES: Record<UnsafeShellContext, (ref: string) => string> = {
  quotes: (ref) =>
    `${ref} is inside quotes: Firebreak quotes every value as one word itself, remove the quotes around it`,
  escape: (ref) =>
    `${ref}: a backslash before a template would break its quoting; remove the backslash`,
  dollar: (ref) => `${ref}: a $ before a template would break its quoting; remove the $`,
  comment: (ref) =>
    `${ref} is in a shell comment: a value with a newline would end the comment and run; move it out`,
  heredoc: (ref) =>
    `${ref} is in a here-document, where quotes are literal text: pass the value as an argument or environment variable instead`,
};

/** Headers that carry credentials: never written literally in a runbook, masked in plans. */
export const SECRET_HEADER =
  /^(authorization|proxy-authorization|cookie|x-api-key|.*token.*|.*secret.*)$/i;

/** One problem in a runbook, with where it is. */
export type RunbookProblem = SourceProblem;

export type ParseResult =
  | { ok: true; definition: RunbookDefinition; problems: [] }
  | { ok: false; definition?: undefined; problems: RunbookProblem[] };

/**
 * Parses and checks one runbook file: YAML syntax, the schema (unknown keys with a suggestion),
 * then the meaning (duplicate names, undefined options and captures, templates, conditions).
 * Every problem carries the file, the YAML path and line:column.
 */
export function parseRunbook(file: string, text: string): ParseResult {
  const problems: RunbookProblem[] = [];
  const add = (path: readonly PathKey[], message: string, where: { line: number; col: number }) =>
    problems.push({ file, path: formatPath(path), line: where.line, col: where.col, message });

  const loaded = loadYamlSource(file, text, MAX_RUNBOOK_BYTES);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const { data, locate } = loaded;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    add([], 'a runbook is a YAML mapping with name, description, kind and steps', {
      line: 1,
      col: 1,
    });
    return { ok: false, problems };
  }
  const parsed = runbookSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      schemaProblem(issue, data, locate, add, RUNBOOK_WORDING);
    return { ok: false, problems: sortProblems(problems) };
  }
  const def = parsed.data;
  checkMeaning(def, (path, message) => add(path, message, locate.at(path)));
  if (problems.length) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, definition: def, problems: [] };
}

/** Known keys at a schema position, for "did you mean" on unknown keys. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  root: Object.keys(runbookSchema.shape),
  step: [...Object.keys(runbookSchema.shape.steps.element.shape)],
  option: ['name', 'type', 'description', 'required', 'default', 'pattern', 'min', 'max', 'values'],
  targets: [
    'nodes',
    'strategy',
    'batchSize',
    'maxFailures',
    'between',
    'maxParallel',
    'keepGoing',
    'allowEmpty',
  ],
  nodes: ['names', 'tags', 'tagsAny', 'attributes', 'cluster', 'exclude'],
};

function knownKeysAt(path: readonly PathKey[]): readonly string[] {
  const last = path[path.length - 1];
  const prev = path[path.length - 2];
  if (path.length === 0) return KNOWN_KEYS.root;
  if (typeof last === 'number' && (prev === 'steps' || prev === 'onError')) return KNOWN_KEYS.step;
  if (last === 'between' && prev === 'targets') return KNOWN_KEYS.step;
  if (typeof last === 'number' && prev === 'options') return KNOWN_KEYS.option;
  if (last === 'targets') return KNOWN_KEYS.targets;
  if (last === 'nodes') return KNOWN_KEYS.nodes;
  return [];
}

const OPTION_TYPES = ['string', 'integer', 'number', 'boolean', 'enum', 'list', 'secure'];

const RUNBOOK_WORDING: SchemaWording = {
  knownKeysAt,
  unknownKey(path, key, known, parent) {
    if (known.includes(key)) {
      // A key that exists, but not for this option's type (e.g. default on a secure option).
      const type = (parent as { type?: unknown } | undefined)?.type;
      return `"${key}" is not allowed for options of type ${String(type)}`;
    }
    let hint = didYouMean(key, known);
    if (
      !hint &&
      (STEP_KINDS as readonly string[]).includes(key) === false &&
      known === KNOWN_KEYS.step
    ) {
      hint = ` (a step has a name and one of ${STEP_KINDS.join(', ')})`;
    }
    return `unknown key "${key}"${hint}`;
  },
  message(path, value, message) {
    if (path[path.length - 1] === 'type' && path[path.length - 3] === 'options') {
      return typeof value === 'string'
        ? `unknown option type "${value}"${didYouMean(value, OPTION_TYPES)}; expected one of ${OPTION_TYPES.join(', ')}`
        : `expected an option type: ${OPTION_TYPES.join(', ')}`;
    }
    return message;
  },
};

function checkMeaning(def: RunbookDefinition, add: (path: PathKey[], message: string) => void) {
  const options = def.options ?? [];
  const optionNames = new Set<string>();
  options.forEach((o, i) => {
    if (optionNames.has(o.name)) add(['options', i, 'name'], `duplicate option name "${o.name}"`);
    optionNames.add(o.name);
    checkOptionDefinition(o, (key, msg) => add(['options', i, ...(key ? [key] : [])], msg));
  });

  const stepNames = new Set<string>();
  const captures = new Map<string, Set<string>>();
  const choices = new Set<string>();
  const scopeFor = (step: StepDefinition, inOnError: boolean): TemplateScope => ({
    options: optionNames,
    steps: inOnError ? captures : new Map(captures),
    choices: inOnError ? choices : new Set(choices),
    // A runbook step runs once for the batch: no one node's values.
    node:
      !step.runbook &&
      (step.on ?? (step.http || step.check?.http ? 'local' : 'targets')) === 'targets',
    alert: false,
  });

  const checkSteps = (steps: StepDefinition[], list: 'steps' | 'onError' | 'between') => {
    steps.forEach((step, i) => {
      const at = (...rest: PathKey[]) =>
        list === 'between' ? ['targets', 'between', ...rest] : [list, i, ...rest];
      if (stepNames.has(step.name)) add(at('name'), `duplicate step name "${step.name}"`);
      stepNames.add(step.name);
      const kinds = STEP_KINDS.filter((k) => step[k] !== undefined);
      if (kinds.length !== 1) {
        add(
          at(),
          kinds.length === 0
            ? `step needs one of ${STEP_KINDS.join(', ')}`
            : `step has ${kinds.join(' and ')}: choose one`,
        );
        return;
      }
      const kind = stepKind(step);
      const scope = scopeFor(step, list !== 'steps');
      if (step.interpreter && kind !== 'script')
        add(at('interpreter'), 'interpreter applies only to script steps');
      if (step.capture && !['run', 'script', 'http', 'check'].includes(kind))
        add(at('capture'), `a ${kind} step has no output to capture`);
      if (kind === 'approval' && list === 'onError')
        add(at('approval'), 'an approval step cannot run in onError: the run has already failed');
      if (
        step.approval?.choices &&
        new Set(step.approval.choices).size !== step.approval.choices.length
      )
        add(at('approval', 'choices'), 'choices must be different from each other');
      if ((kind === 'approval' || kind === 'sleep' || kind === 'runbook') && step.on) {
        add(at('on'), `on: applies to run, script, http and check steps`);
      }
      if (kind === 'check' && Boolean(step.check!.run) === Boolean(step.check!.http)) {
        add(at('check'), 'a check has exactly one of run or http');
      }
      const http = step.http ?? step.check?.http;
      for (const [header, value] of Object.entries(http?.headers ?? {})) {
        if (SECRET_HEADER.test(header) && hasLiteralSecret(value)) {
          add(
            at(step.http ? 'http' : 'check', ...(step.http ? [] : ['http']), 'headers', header),
            `a literal ${header} header puts a secret in the runbook: take it from a secure option instead`,
          );
        }
      }
      for (const { path, value, shell } of templatedFields(step)) {
        checkTemplate(value, scope, shell, (msg) => add(at(...path), msg));
      }
      checkEvaluated(step, options, (path, msg) => add(at(...path), msg));
      checkRetryRefs(step, options, (path, msg) => add(at(...path), msg));
      if (step.when) checkCondition(step.when, scope, (msg) => add(at('when'), msg));
      for (const [name, c] of Object.entries(step.capture ?? {})) {
        if ('regex' in c) checkRegex(c.regex, (msg) => add(at('capture', name, 'regex'), msg));
      }
      if (step.check?.expect.stdout)
        checkRegex(step.check.expect.stdout, (msg) => add(at('check', 'expect', 'stdout'), msg));
      captures.set(step.name, new Set(Object.keys(step.capture ?? {})));
      if (step.approval?.choices) choices.add(step.name);
    });
  };
  checkSteps(def.steps, 'steps');
  const between = def.targets?.between;
  if (between) {
    const kind = STEP_KINDS.find((k) => between[k] !== undefined);
    if ((def.targets?.strategy ?? 'parallel') === 'parallel')
      add(
        ['targets', 'between'],
        'between runs between batches: set strategy rolling or sequential',
      );
    else if (kind && kind !== 'check' && kind !== 'runbook')
      add(['targets', 'between'], `between is a gate: a check or runbook step, not a ${kind} step`);
    else checkSteps([between], 'between');
  }
  if (def.targets?.maxFailures !== undefined && (def.targets.strategy ?? 'parallel') === 'parallel')
    add(
      ['targets', 'maxFailures'],
      'maxFailures counts between batches: set strategy rolling or sequential',
    );
  checkSteps(def.onError ?? [], 'onError');

  if (def.approval?.when) {
    checkCondition(
      def.approval.when,
      { options: optionNames, steps: new Map(), node: true, alert: false },
      (msg) => add(['approval', 'when'], msg),
    );
  }
  const nodeScope: TemplateScope = {
    options: optionNames,
    steps: new Map(),
    node: false,
    alert: false,
  };
  def.targets?.nodes?.names?.forEach((n, i) =>
    checkTemplate(n, nodeScope, false, (m) => add(['targets', 'nodes', 'names', i], m)),
  );
  notTemplated(def.targets?.nodes, (path, m) => add(['targets', 'nodes', ...path], m));
  if (typeof def.targets?.batchSize === 'string') {
    const size = def.targets.batchSize;
    if (/%/.test(size) && !templateRefs(size).length) {
      if (!/^(100|[1-9]\d?)%$/.test(size))
        add(['targets', 'batchSize'], 'expected a percentage from 1% to 100%, such as 25%');
    } else if (!templateRefs(size).length)
      add(['targets', 'batchSize'], 'expected a number, a percentage such as 25%, or a template');
    else checkTemplate(size, nodeScope, false, (m) => add(['targets', 'batchSize'], m));
  }

  def.triggers?.forEach((t, i) => {
    if (def.kind !== 'diagnostic' && t.autoRun !== true)
      add(
        ['triggers', i],
        'only diagnostic runbooks run automatically from alerts; a remediation opts in with autoRun: true (still held for its approval)',
      );
    const alertScope: TemplateScope = {
      options: new Set(),
      steps: new Map(),
      node: false,
      alert: true,
    };
    for (const [name, v] of Object.entries(t.options ?? {})) {
      if (!optionNames.has(name))
        add(
          ['triggers', i, 'options', name],
          `no option named "${name}"${didYouMean(name, [...optionNames])}`,
        );
      if (typeof v === 'string')
        checkTemplate(v, alertScope, false, (m) => add(['triggers', i, 'options', name], m));
    }
    notTemplated(t.targets?.nodes, (path, m) =>
      add(['triggers', i, 'targets', 'nodes', ...path], m),
    );
    t.targets?.nodes.names?.forEach((n, j) =>
      checkTemplate(n, alertScope, false, (m) =>
        add(['triggers', i, 'targets', 'nodes', 'names', j], m),
      ),
    );
    for (const [label, v] of Object.entries(t.alert.match)) {
      if (/^\/.*\/$/.test(v))
        checkRegex(v.slice(1, -1), (m) => add(['triggers', i, 'alert', 'match', label], m));
    }
  });
  checkSchedules(def, add);
}

/**
 * Schedules: unique names, a cron expression the cron library reads, a known IANA zone, and
 * options that pass the runbook's own validation (as a run with them would), none secure (a
 * secret never sits in the file).
 */
function checkSchedules(def: RunbookDefinition, add: (path: PathKey[], message: string) => void) {
  const names = new Set<string>();
  def.schedules?.forEach((s, i) => {
    if (names.has(s.name)) add(['schedules', i, 'name'], `duplicate schedule name "${s.name}"`);
    names.add(s.name);
    const zone = s.timezone ? zoneProblem(s.timezone) : null;
    if (zone) add(['schedules', i, 'timezone'], zone);
    const cron = cronProblem(s.cron, zone ? undefined : s.timezone);
    if (cron) add(['schedules', i, 'cron'], cron);
    if (s.maxCatchUp !== undefined && s.missed !== 'run-all')
      add(['schedules', i, 'maxCatchUp'], 'only with missed: run-all');
    const secure = new Set(
      (def.options ?? []).filter((o) => o.type === 'secure').map((o) => o.name),
    );
    for (const k of Object.keys(s.options ?? {}))
      if (secure.has(k))
        add(
          ['schedules', i, 'options', k],
          'a secure option takes no value in the file (a secret is never written there)',
        );
    const v = validateOptions(def.options ?? [], s.options ?? {});
    if (!v.ok)
      for (const p of v.problems) {
        const given = Object.prototype.hasOwnProperty.call(s.options ?? {}, p.option);
        add(
          given ? ['schedules', i, 'options', p.option] : ['schedules', i, 'options'],
          given ? p.message : `${p.option} ${p.message}`,
        );
      }
  });
}

/**
 * `retry.attempts` / `retry.delay` may name an option; it must exist and be able to hold only
 * a fitting value: an integer option for attempts, a string option whose pattern admits only
 * durations or an enum of durations for delay. The start path checks the value itself.
 */
function checkRetryRefs(
  step: StepDefinition,
  options: readonly OptionDefinition[],
  add: (path: PathKey[], msg: string) => void,
) {
  const attempts = optionRefName(step.retry?.attempts);
  if (attempts !== undefined) {
    const o = options.find((d) => d.name === attempts);
    if (!o) add(['retry', 'attempts'], `no option named "${attempts}"`);
    else if (o.type !== 'integer')
      add(
        ['retry', 'attempts'],
        `option ${attempts} is ${o.type}: attempts need an integer option`,
      );
  }
  const delay = optionRefName(step.retry?.delay);
  if (delay !== undefined) {
    const o = options.find((d) => d.name === delay);
    if (!o) add(['retry', 'delay'], `no option named "${delay}"`);
    else if (
      o.type === 'enum'
        ? !o.values.every((v) => DURATION_RE.test(v))
        : o.type !== 'string' || !o.pattern
    )
      add(
        ['retry', 'delay'],
        `option ${delay} must be an enum of durations or a string with a pattern, so only a duration such as 30s gets through`,
      );
  }
}

/** The step fields that hold templates; `shell` ones quote each value as a word. */
function templatedFields(
  step: StepDefinition,
): Array<{ path: PathKey[]; value: unknown; shell: boolean }> {
  const out: Array<{ path: PathKey[]; value: unknown; shell: boolean }> = [];
  if (step.run) out.push({ path: ['run'], value: step.run, shell: true });
  if (step.script) out.push({ path: ['script'], value: step.script, shell: true });
  if (step.check?.run) out.push({ path: ['check', 'run'], value: step.check.run, shell: true });
  const http = step.http ?? step.check?.http;
  const base: PathKey[] = step.http ? ['http'] : ['check', 'http'];
  if (http) {
    out.push({ path: [...base, 'url'], value: http.url, shell: false });
    for (const [k, v] of Object.entries(http.headers ?? {}))
      out.push({ path: [...base, 'headers', k], value: v, shell: false });
    if (http.json !== undefined)
      out.push({ path: [...base, 'json'], value: http.json, shell: false });
    if (http.body) out.push({ path: [...base, 'body'], value: http.body, shell: false });
  }
  if (step.approval)
    out.push({ path: ['approval', 'message'], value: step.approval.message, shell: false });
  for (const [k, v] of Object.entries(step.runbook?.options ?? {}))
    out.push({ path: ['runbook', 'options', k], value: v, shell: false });
  return out;
}

/**
 * Only `names` of a node filter is rendered (each value as a literal name); a template anywhere
 * else would be matched as its own text, so it is refused rather than silently never matching.
 */
function notTemplated(
  filter: Record<string, unknown> | undefined,
  add: (path: PathKey[], msg: string) => void,
) {
  for (const [key, value] of Object.entries(filter ?? {})) {
    if (key === 'names') continue;
    if (templateRefs(value).length)
      add([key], `templates are rendered only in names, not in ${key}`);
  }
}

/**
 * A templated value must not be code: refused as the argument of a command that evaluates it
 * (`sh -c`, `eval`, `su -c`, `ssh HOST …`, `xargs`, `env … sh -c`, …) unless its value cannot
 * hold shell syntax; and a script for another interpreter (python, …) takes no templates at
 * all: it gets its values as environment variables.
 */
function checkEvaluated(
  step: StepDefinition,
  options: readonly OptionDefinition[],
  add: (path: PathKey[], msg: string) => void,
) {
  if (step.script && !isShellInterpreter(step.interpreter)) {
    const refs = templateRefs(step.script);
    if (refs.length) {
      add(
        ['script'],
        `a ${step.interpreter} script gets values as environment variables, not templates: read ${refs
          .map((r) => scriptEnvName(r.path) ?? `{{ ${r.source} }}`)
          .join(', ')} from the environment instead of {{ ${refs[0].source} }}`,
      );
    }
  }
  const shellFields: Array<[PathKey[], string | undefined]> = [
    [['run'], step.run],
    [['check', 'run'], step.check?.run],
    [['script'], step.script && isShellInterpreter(step.interpreter) ? step.script : undefined],
  ];
  for (const [path, text] of shellFields) {
    if (!text) continue;
    for (const r of evaluatedTemplateRefs(text)) {
      if (templateRulesOutShell(r.path, options)) continue;
      const option = r.path[0] === 'options' ? ` (option ${r.path[1]})` : '';
      add(
        path,
        `step "${step.name}": ${r.ref}${option} is an argument of \`${r.command}\`, which runs it as code: quoting cannot protect it. Pass it as a plain argument (sh -c '… "$1"' _ {{ … }}), or${r.path[0] === 'options' ? ` give option ${r.path[1]} a pattern that rules out shell syntax (e.g. '[A-Za-z0-9._-]+')` : ' use a value that cannot hold shell syntax'}`,
      );
    }
  }
}

function checkTemplate(
  value: unknown,
  scope: TemplateScope,
  shell: boolean,
  add: (msg: string) => void,
) {
  const strings: string[] = [];
  const collect = (v: unknown) => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(value);
  for (const s of strings) {
    try {
      for (const seg of parseTemplate(s)) {
        if ('path' in seg) {
          const why = checkPath(seg.path, scope);
          if (why) add(why);
        }
      }
    } catch (e) {
      if (e instanceof TemplateError) add(e.message);
      else throw e;
    }
    if (shell) {
      for (const { ref, context } of unsafeTemplateRefs(s)) add(UNSAFE_MESSAGES[context](ref));
    }
  }
}

function checkCondition(src: string, scope: TemplateScope, add: (msg: string) => void) {
  try {
    for (const path of conditionPaths(parseCondition(src))) {
      const why = checkPath(path, scope);
      if (why) add(why);
    }
  } catch (e) {
    if (e instanceof ConditionError) add(`condition: ${e.message} at character ${e.offset + 1}`);
    else throw e;
  }
}

function checkRegex(src: string, add: (msg: string) => void) {
  try {
    new RegExp(src, 'u');
  } catch (e) {
    add(`invalid regular expression: ${(e as Error).message}`);
  }
}

function checkOptionDefinition(
  o: OptionDefinition,
  add: (key: string | undefined, msg: string) => void,
) {
  if ('pattern' in o && o.pattern !== undefined) checkRegex(o.pattern, (m) => add('pattern', m));
  if ('min' in o && 'max' in o && o.min !== undefined && o.max !== undefined && o.min > o.max) {
    add('min', `min (${o.min}) is greater than max (${o.max})`);
  }
  if ('default' in o && o.default !== undefined) {
    const r = validateOptions([{ ...o, required: false }], {
      [o.name]: o.default,
    });
    if (!r.ok) add('default', `default ${r.problems[0].message}`);
  }
}
