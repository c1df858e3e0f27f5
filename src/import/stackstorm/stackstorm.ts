import { posix } from 'node:path';
import { stringify } from 'yaml';
import { loadYamlSource, type PathKey, type YamlLocator } from '../../common/yaml-source.js';
import { didYouMean } from '../../common/suggest.js';
import { parseRunbook } from '../../runbooks/runbook.parser.js';
import { NAME_RE, OPTION_NAME_RE } from '../../runbooks/runbook.schema.js';
import type { ImportInput } from '../kinds.js';
import { slugify } from '../shell-refs.js';
import type { Finding, FindingLevel, ImportedFile, ImportResult } from '../report.js';
import { hasJinja, translateShell, type ParamValue } from './jinja.js';

/**
 * StackStorm actions → Firebreak runbooks (`firebreak import stackstorm action.yaml …`). Pure:
 * inputs are the texts of the files named on the command line (action metadata, YAML or JSON,
 * and the scripts and workflows they name as `entry_point`, found relative to the action file).
 *
 * Shell actions (`local-shell-cmd`, `remote-shell-cmd`, `local-shell-script`,
 * `remote-shell-script` and the older `run-*` names) become one-step runbooks: parameters become
 * typed options (or fixed values when `immutable` with a default), the runner's `cmd` a `run`
 * step with Jinja references turned into Firebreak templates (quoted by construction), a script's
 * entry point a `script` step given its positional arguments. Workflows (Orquesta, ActionChain,
 * Mistral) and other runners are reported as not converted, naming their tasks. Everything the
 * import does not carry over is a finding with its line; every written file is checked by the
 * runbook parser `firebreak lint` uses.
 */

const MAX_BYTES = 1024 * 1024;
const YAML_FILE = /\.(ya?ml|json)$/i;

const RUNNER_ALIASES: Record<string, string> = {
  'run-local': 'local-shell-cmd',
  'run-remote': 'remote-shell-cmd',
  'run-local-script': 'local-shell-script',
  'run-remote-script': 'remote-shell-script',
};
const SHELL_RUNNERS = [
  'local-shell-cmd',
  'remote-shell-cmd',
  'local-shell-script',
  'remote-shell-script',
];
const WORKFLOW_RUNNERS = ['orquesta', 'action-chain', 'mistral', 'mistral-v2'];

/** Top-level keys of action metadata (st2common/models/api/action.py ActionAPI). */
const ACTION_KEYS = [
  'name',
  'pack',
  'runner_type',
  'description',
  'enabled',
  'entry_point',
  'parameters',
  'tags',
  'notify',
  'output_schema',
  'output_key',
  'ref',
  'uid',
  'id',
  'metadata_file',
];
/** Keys of a parameter (a JSON schema property plus StackStorm's own). */
const PARAM_KEYS = [
  'type',
  'description',
  'required',
  'default',
  'enum',
  'secret',
  'immutable',
  'position',
  'items',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'title',
  'format',
];

/** Runner parameters of the shell runners (st2 contrib/runners/*_runner/runner.yaml). */
const CMD_RUNNER_PARAMS = ['cmd'];
const COMMON_RUNNER_PARAMS = ['sudo', 'sudo_password', 'cwd', 'env', 'timeout', 'kwarg_op'];
const REMOTE_RUNNER_PARAMS = [
  'hosts',
  'username',
  'password',
  'private_key',
  'passphrase',
  'port',
  'parallel',
  'bastion_host',
  'dir',
];

type Json = Record<string, unknown>;

interface Option {
  name: string;
  type: string;
  description?: string;
  required?: boolean;
  default?: unknown;
  values?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}

interface Source {
  file: string;
  data: unknown;
  locate: YamlLocator;
}

class Report {
  readonly findings: Finding[] = [];
  constructor(
    private readonly src: Source,
    private readonly subject: string,
  ) {}
  add(level: FindingLevel, path: PathKey[], message: string, key?: string, subject?: string) {
    const at = this.src.locate.at(path, key);
    const full = key === undefined ? path : [...path, key];
    this.findings.push({
      level,
      source: { file: this.src.file, line: at.line, path: pathText(full) },
      subject: subject ?? this.subject,
      message,
    });
  }
}

function pathText(path: readonly PathKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** `an integer`, `a string`. */
const an = (word: string) => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
/** A scalar's text; anything else as JSON. */
const text = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? String(v)
    : JSON.stringify(v);
const isMap = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const norm = (p: string) => posix.normalize(p.replace(/\\/g, '/'));

/** `linux.rm` → `linux-rm`: Firebreak runbook names are lower-case letters, digits and dashes. */
export function runbookName(pack: string | undefined, name: string): string {
  const slug = slugify(`${pack ? `${pack}-` : ''}${name}`);
  return slug.length >= 2 ? slug : `${slug || 'action'}-action`;
}

function optionName(param: string): string {
  const n = slugify(param, { sep: '_', camel: true });
  return /^[a-z]/.test(n) ? n : `p_${n}`.slice(0, 63).replace(/_+$/, '');
}

/** `…/PACK/actions/x.yaml` → PACK. */
function packFromPath(file: string): string | undefined {
  const parts = norm(file).split('/');
  const i = parts.lastIndexOf('actions');
  return i > 0 ? parts[i - 1] : undefined;
}

export function convertStackstorm(inputs: ImportInput[]): ImportResult {
  const findings: Finding[] = [];
  const files: ImportedFile[] = [];
  const byPath = new Map(inputs.map((i) => [norm(i.file), i]));
  const used = new Set<string>();
  const actions: Source[] = [];
  const others: ImportInput[] = [];

  for (const input of inputs) {
    if (!YAML_FILE.test(input.file)) {
      others.push(input);
      continue;
    }
    const loaded = loadYamlSource(input.file, input.text, MAX_BYTES);
    if (!loaded.ok) {
      for (const p of loaded.problems)
        findings.push({
          level: 'error',
          source: { file: input.file, line: p.line },
          subject: input.file,
          message: `does not parse: ${p.message}`,
        });
      continue;
    }
    if (isMap(loaded.data) && 'runner_type' in loaded.data)
      actions.push({ file: input.file, data: loaded.data, locate: loaded.locate });
    else others.push(input);
  }

  const names = new Map<string, string>();
  for (const src of actions) {
    const r = convertAction(src, byPath, used);
    findings.push(...r.findings);
    if (!r.file) continue;
    const first = names.get(r.file.name);
    if (first) {
      findings.push({
        level: 'error',
        source: { file: src.file, line: src.locate.at([], 'name').line, path: 'name' },
        subject: r.file.name,
        message: `two actions become runbook "${r.file.name}" (also ${first}): rename one`,
      });
      continue;
    }
    names.set(r.file.name, src.file);
    files.push(r.file);
  }

  for (const o of others) {
    if (used.has(norm(o.file))) continue;
    findings.push({
      level: 'error',
      source: { file: o.file, line: 1 },
      subject: o.file,
      message:
        'not StackStorm action metadata (no runner_type) and not the entry point of an action given: pass action files (and their entry points)',
    });
  }
  return { files, findings };
}

function convertAction(
  src: Source,
  byPath: Map<string, ImportInput>,
  used: Set<string>,
): { file?: ImportedFile; findings: Finding[] } {
  const a = src.data as Json;
  const actionName = typeof a.name === 'string' && a.name ? a.name : undefined;
  const pack = typeof a.pack === 'string' && a.pack ? a.pack : packFromPath(src.file);
  const ref = actionName ? (pack ? `${pack}.${actionName}` : actionName) : src.file;
  const report = new Report(src, ref);
  if (!actionName) {
    report.add('error', [], 'an action needs a name', 'name');
    return { findings: report.findings };
  }

  for (const key of Object.keys(a)) {
    if (!ACTION_KEYS.includes(key))
      report.add(
        'skipped',
        [],
        `unknown key "${key}"${didYouMean(key, ACTION_KEYS)}: not converted`,
        key,
      );
  }

  const declared = String(a.runner_type);
  const runner = RUNNER_ALIASES[declared] ?? declared;
  const entry = typeof a.entry_point === 'string' && a.entry_point ? a.entry_point : undefined;
  const entryPath = entry ? norm(posix.join(posix.dirname(norm(src.file)), entry)) : undefined;
  const entryInput = entryPath ? byPath.get(entryPath) : undefined;
  if (entryInput) used.add(entryPath!);

  if (WORKFLOW_RUNNERS.includes(runner)) {
    report.add(
      'skipped',
      [],
      `${an(runner)} workflow is not converted: write its tasks as steps of a runbook (runbook steps run other runbooks)`,
      'runner_type',
    );
    if (entryInput) reportWorkflowTasks(entryInput, runner, report.findings, ref);
    else if (entry)
      report.add(
        'skipped',
        [],
        `workflow file ${entryPath} was not given: its tasks are not listed`,
        'entry_point',
      );
    return { findings: report.findings };
  }
  if (!SHELL_RUNNERS.includes(runner)) {
    report.add(
      'skipped',
      [],
      `runner "${declared}" is not converted (shell actions are: ${SHELL_RUNNERS.join(', ')})`,
      'runner_type',
    );
    return { findings: report.findings };
  }
  if (declared !== runner)
    report.add('converted', [], `runner ${declared} is ${runner}`, 'runner_type');
  const remote = runner.startsWith('remote-');
  const script = runner.endsWith('-script');

  const name = runbookName(pack, actionName);
  if (!NAME_RE.test(name)) {
    report.add('error', [], `cannot make a runbook name of "${ref}"`, 'name');
    return { findings: report.findings };
  }
  report.add('changed', [], `action ${ref} is runbook ${name}`, 'name');

  const runnerParams = [
    ...(script ? [] : CMD_RUNNER_PARAMS),
    ...COMMON_RUNNER_PARAMS,
    ...(remote ? REMOTE_RUNNER_PARAMS : []),
  ];
  const params = isMap(a.parameters) ? a.parameters : {};
  if (a.parameters !== undefined && !isMap(a.parameters))
    report.add('error', [], 'parameters must be a mapping of names to definitions', 'parameters');

  const options: Option[] = [];
  const values = new Map<string, ParamValue>();
  const positional: Array<{ param: string; position: number }> = [];
  const named: string[] = [];
  const runnerSpec: Record<string, Json> = {};
  let bad = false;

  for (const [param, rawSpec] of Object.entries(params)) {
    const at: PathKey[] = ['parameters', param];
    if (!isMap(rawSpec)) {
      report.add('error', ['parameters'], `parameter ${param} must be a mapping`, param);
      bad = true;
      continue;
    }
    const spec = rawSpec;
    for (const key of Object.keys(spec)) {
      if (!PARAM_KEYS.includes(key))
        report.add(
          'skipped',
          at,
          `unknown key "${key}"${didYouMean(key, PARAM_KEYS)}: not converted`,
          key,
        );
    }
    if (runnerParams.includes(param)) {
      runnerSpec[param] = spec;
      if (spec.position !== undefined)
        report.add(
          'skipped',
          at,
          `position of the runner parameter ${param}: ignored`,
          'position',
          param,
        );
      continue;
    }
    if (spec.immutable === true) {
      if (spec.default === undefined) {
        report.add(
          'changed',
          at,
          `${param} is immutable without a default: always empty`,
          undefined,
          param,
        );
        values.set(param, { fixed: '' });
      } else if (isMap(spec.default) || hasJinja(text(spec.default))) {
        report.add(
          'skipped',
          at,
          `${param}: a fixed value that is not plain text is not converted`,
          'default',
          param,
        );
        bad = true;
      } else {
        const fixed = Array.isArray(spec.default)
          ? spec.default.map(text).join(',')
          : text(spec.default);
        values.set(param, { fixed });
        report.add(
          'converted',
          at,
          `${param} is a fixed value (${JSON.stringify(fixed)}), not an option`,
          undefined,
          param,
        );
      }
    } else {
      const opt = toOption(param, spec, at, report);
      if (!opt) {
        bad = true;
        continue;
      }
      options.push(opt);
      values.set(param, { option: opt.name });
    }
    if (spec.position !== undefined) {
      if (!script)
        report.add(
          'skipped',
          at,
          'position is used only by script actions: ignored',
          'position',
          param,
        );
      else if (typeof spec.position === 'number' && Number.isInteger(spec.position))
        positional.push({ param, position: spec.position });
      else {
        report.add('error', at, 'position must be an integer', 'position', param);
        bad = true;
      }
    } else if (script) named.push(param);
  }

  // Option names must stay unique after renaming.
  const seen = new Set<string>();
  for (const o of options) {
    if (seen.has(o.name)) {
      report.add('error', ['parameters'], `two parameters become option ${o.name}: rename one`);
      bad = true;
    }
    seen.add(o.name);
  }

  const lookup = (p: string) => values.get(p);
  const r = runnerSettings(runnerSpec, report, remote);
  if (r.bad) bad = true;

  const doc: Json = {
    name,
    description:
      typeof a.description === 'string' && a.description.trim()
        ? a.description.trim().slice(0, 2000)
        : `StackStorm action ${ref}`,
    kind: 'remediation',
    tags: ['stackstorm', ...(pack ? [runbookName(undefined, pack)] : [])],
  };
  if (typeof a.description !== 'string' || !a.description.trim())
    report.add('changed', [], 'no description: one is made up from the action name', 'name');
  if (options.length || r.hostsOption)
    doc.options = [...(r.hostsOption ? [r.hostsOption] : []), ...options];
  if (remote) {
    doc.targets = {
      nodes: { names: r.hosts ?? ['{{ options.hosts }}'] },
      ...(r.strategy ? { strategy: r.strategy } : {}),
    };
  }
  if (r.timeout) doc.timeout = r.timeout;

  const step: Json = { name: runbookName(undefined, actionName).slice(0, 63) };
  if (!remote) step.on = 'local';
  const prefix = r.prefix.join('\n');

  if (!script) {
    const cmdSpec = runnerSpec.cmd;
    const cmd = cmdSpec?.default;
    if (typeof cmd !== 'string' || !cmd.trim()) {
      report.add(
        'skipped',
        cmdSpec ? ['parameters'] : [],
        'not converted: the command (cmd) is given when the action runs; a runbook runs the command written in it (values are quoted, never code): write the command into a runbook',
        cmdSpec ? 'cmd' : 'runner_type',
      );
      return { findings: report.findings };
    }
    if (cmdSpec.immutable !== true)
      report.add(
        'changed',
        ['parameters', 'cmd'],
        'cmd could be replaced at run time in StackStorm; the runbook runs this one',
        'default',
        'cmd',
      );
    const t = translateShell(cmd, lookup);
    if (t.unconverted.length) {
      for (const u of t.unconverted)
        report.add(
          'skipped',
          ['parameters', 'cmd'],
          `${u.source}: ${u.why}: not converted`,
          'default',
          'cmd',
        );
      report.add(
        'skipped',
        [],
        'not converted: its command uses Jinja Firebreak has no form for',
        'name',
      );
      return { findings: report.findings };
    }
    noteQuoting(t.refs, t.unquoted, report);
    step.run = prefix ? `${prefix}\n${t.text}` : t.text;
  } else {
    if (!entry) {
      report.add('error', [], 'a script action needs an entry_point', 'name');
      return { findings: report.findings };
    }
    if (!entryInput) {
      report.add(
        'skipped',
        [],
        `not converted: its entry point ${entryPath} was not given (name it on the command line with the action)`,
        'entry_point',
      );
      return { findings: report.findings };
    }
    const kwargOp =
      typeof runnerSpec.kwarg_op?.default === 'string' ? runnerSpec.kwarg_op.default : '--';
    const args = [
      ...positional.sort((x, y) => x.position - y.position).map((p) => `{{${p.param}}}`),
      ...named.map((p) => `${kwargOp}${p}={{${p}}}`),
    ].join(' ');
    if (named.length)
      report.add(
        'changed',
        ['parameters'],
        `${named.join(', ')}: no position, passed as ${kwargOp}NAME=VALUE (StackStorm leaves out parameters without a value; here an unset one is passed empty)`,
      );
    const t = translateShell(args, lookup);
    const built = scriptStep(entryInput, t.text, prefix);
    if ('skip' in built) {
      report.add('skipped', [], `not converted: ${built.skip}`, 'entry_point');
      return { findings: report.findings };
    }
    Object.assign(step, built);
    report.add(
      'converted',
      [],
      `entry point ${entryPath} is a script step${args ? ' given its arguments' : ''}`,
      'entry_point',
    );
  }
  if (bad) {
    report.add('skipped', [], 'not converted: see the problems above', 'name');
    return { findings: report.findings };
  }
  doc.steps = [step];

  if (a.enabled === false)
    report.add(
      'changed',
      [],
      'disabled in StackStorm: the runbook is enabled until you disable it (POST /runbooks/NAME/disable)',
      'enabled',
    );
  if (a.notify !== undefined)
    report.add(
      'skipped',
      [],
      'notify is not converted: use a runbook step (http) or an onError step',
      'notify',
    );
  if (a.output_schema !== undefined)
    report.add(
      'skipped',
      [],
      'output_schema is not converted: use capture on the step',
      'output_schema',
    );
  if (a.tags !== undefined)
    report.add('skipped', [], 'tags (name/value pairs) are not converted', 'tags');

  const path = `${name}.yaml`;
  const content = `# Imported from ${src.file} (StackStorm action ${ref}) by firebreak import stackstorm\n${stringify(doc, { lineWidth: 0 })}`;
  const lint = parseRunbook(path, content);
  if (!lint.ok) {
    for (const p of lint.problems)
      report.add(
        'error',
        [],
        `the converted runbook does not lint: ${p.path ? `${p.path}: ` : ''}${p.message}`,
        'name',
      );
    return { findings: report.findings };
  }
  report.add('converted', [], `written as ${path}`, 'name');
  return { file: { path, content, name }, findings: report.findings };
}

function noteQuoting(refs: string[], unquoted: boolean, report: Report) {
  if (!refs.length) return;
  report.add(
    'changed',
    ['parameters', 'cmd'],
    `${[...new Set(refs)].join(', ')}: each value is now one quoted shell word (StackStorm pasted the text into the command, so a value with spaces or shell syntax meant several words or code)${unquoted ? '; references inside quotes were moved out of them' : ''}`,
    'default',
    'cmd',
  );
}

/** A parameter as a Firebreak option, or null when it cannot be one (reported). */
function toOption(param: string, spec: Json, at: PathKey[], report: Report): Option | null {
  const name = optionName(param);
  if (!OPTION_NAME_RE.test(name)) {
    report.add('error', at, `cannot make an option name of "${param}"`, undefined, param);
    return null;
  }
  if (name !== param) report.add('changed', at, `${param} is option ${name}`, undefined, param);
  const opt: Option = { name, type: 'string' };
  if (typeof spec.description === 'string' && spec.description.trim())
    opt.description = spec.description.trim().slice(0, 500);
  if (spec.required === true) opt.required = true;
  let type = typeof spec.type === 'string' ? spec.type : undefined;
  if (!type) {
    const d = spec.default;
    type = Array.isArray(spec.enum)
      ? 'string'
      : typeof d === 'boolean'
        ? 'boolean'
        : typeof d === 'number'
          ? Number.isInteger(d)
            ? 'integer'
            : 'number'
          : 'string';
    report.add('changed', at, `no type: taken as ${type}`, undefined, param);
  }
  switch (type) {
    case 'string':
      opt.type = 'string';
      break;
    case 'integer':
    case 'number':
    case 'boolean':
      opt.type = type;
      break;
    case 'array': {
      opt.type = 'list';
      const items = isMap(spec.items) ? spec.items.type : undefined;
      if (items !== undefined && items !== 'string')
        report.add(
          'changed',
          at,
          `items of type ${text(items)} are taken as strings`,
          'items',
          param,
        );
      break;
    }
    case 'object':
      opt.type = 'string';
      report.add(
        'changed',
        at,
        'an object parameter is a string option holding JSON',
        'type',
        param,
      );
      break;
    default:
      report.add('skipped', at, `type ${type} has no Firebreak option type`, 'type', param);
      return null;
  }
  if (Array.isArray(spec.enum)) {
    if (opt.type === 'list') opt.values = spec.enum.map(String);
    else {
      opt.type = 'enum';
      opt.values = spec.enum.map(String);
      if (type !== 'string')
        report.add('changed', at, `an enum of ${type} values takes them as text`, 'enum', param);
    }
  }
  if (spec.secret === true) {
    if (opt.type !== 'string') {
      report.add(
        'skipped',
        at,
        `a secret ${type} parameter has no Firebreak form (secure options are text)`,
        'secret',
        param,
      );
      return null;
    }
    opt.type = 'secure';
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const usedKeys = new Set<string>();
  const take = (k: string, v: number | string | undefined) => {
    if (v !== undefined) usedKeys.add(k);
    return v;
  };
  if (opt.type === 'integer' || opt.type === 'number') {
    opt.min = take('minimum', num(spec.minimum)) as number | undefined;
    opt.max = take('maximum', num(spec.maximum)) as number | undefined;
  }
  if (opt.type === 'string' || opt.type === 'secure') {
    opt.min = take('minLength', num(spec.minLength)) as number | undefined;
    opt.max = take('maxLength', num(spec.maxLength)) as number | undefined;
    if (typeof spec.pattern === 'string') opt.pattern = take('pattern', spec.pattern) as string;
  }
  for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'format', 'title'])
    if (spec[k] !== undefined && !usedKeys.has(k))
      report.add('skipped', at, `${k} is not converted for ${an(opt.type)} option`, k, param);
  if (spec.default !== undefined) {
    const d = spec.default;
    if (opt.type === 'secure') {
      report.add(
        'skipped',
        at,
        'a secure option has no default: give the secret when the runbook runs',
        'default',
        param,
      );
    } else if (typeof d === 'string' && hasJinja(d)) {
      report.add(
        'skipped',
        at,
        `default ${JSON.stringify(d)} is Jinja: not converted (the option has no default)`,
        'default',
        param,
      );
    } else if (fitsType(opt, d)) {
      opt.default = opt.type === 'enum' ? text(d) : d;
    } else {
      report.add(
        'skipped',
        at,
        `default ${JSON.stringify(d)} is not ${an(opt.type)}: not converted`,
        'default',
        param,
      );
    }
  }
  for (const k of Object.keys(opt) as Array<keyof Option>) if (opt[k] === undefined) delete opt[k];
  report.add(
    'converted',
    at,
    `${param} is ${an(opt.type)} option${opt.required ? ' (required)' : ''}`,
    undefined,
    param,
  );
  return opt;
}

function fitsType(opt: Option, d: unknown): boolean {
  switch (opt.type) {
    case 'string':
      return typeof d === 'string';
    case 'integer':
      return typeof d === 'number' && Number.isInteger(d);
    case 'number':
      return typeof d === 'number';
    case 'boolean':
      return typeof d === 'boolean';
    case 'enum':
      return opt.values!.includes(String(d));
    case 'list':
      return Array.isArray(d) && d.every((x) => typeof x === 'string');
    default:
      return false;
  }
}

interface RunnerSettings {
  prefix: string[];
  timeout?: string;
  hosts?: string[];
  hostsOption?: Option;
  strategy?: string;
  bad: boolean;
}

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Runner parameters → a command prefix (cwd, env), the timeout, targets, or findings. */
function runnerSettings(
  spec: Record<string, Json>,
  report: Report,
  remote: boolean,
): RunnerSettings {
  const out: RunnerSettings = { prefix: [], bad: false };
  const at = (p: string): PathKey[] => ['parameters', p];
  const fixedNote = (p: string) => {
    if (spec[p].immutable !== true)
      report.add(
        'changed',
        at(p),
        `${p} could be changed at run time in StackStorm; the runbook uses this value`,
        undefined,
        p,
      );
  };
  for (const [p, s] of Object.entries(spec)) {
    const d = s.default;
    switch (p) {
      case 'cmd':
        break; // handled by the caller
      case 'sudo':
        if (d === true)
          report.add(
            'skipped',
            at(p),
            "sudo is not converted: put sudo into the command, or log in as a user with the rights (the node's user)",
            undefined,
            p,
          );
        else if (s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            'sudo could be switched on at run time: not converted',
            undefined,
            p,
          );
        break;
      case 'sudo_password':
      case 'password':
      case 'private_key':
      case 'passphrase':
        if (d !== undefined || s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            `${p}: credentials are not imported; create a credential (POST /credentials) and set it on the nodes`,
            undefined,
            p,
          );
        break;
      case 'username':
      case 'port':
      case 'bastion_host':
        if (d !== undefined || s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            `${p}: how a node is reached is the node's (inventory), not the runbook's`,
            undefined,
            p,
          );
        break;
      case 'dir':
        if (d !== undefined)
          report.add(
            'skipped',
            at(p),
            'dir: Firebreak uploads a script to a temporary directory of its own',
            undefined,
            p,
          );
        break;
      case 'kwarg_op':
        break; // used for named script arguments
      case 'cwd':
        if (typeof d === 'string' && d && !hasJinja(d)) {
          out.prefix.push(`cd -- '${d.replace(/'/g, `'\\''`)}' || exit 1`);
          fixedNote(p);
          report.add('converted', at(p), `cwd: the command starts with cd -- ${d}`, undefined, p);
        } else if (d !== undefined || s.immutable !== true) {
          report.add(
            'skipped',
            at(p),
            'cwd without a plain default is not converted',
            undefined,
            p,
          );
        }
        break;
      case 'env':
        if (isMap(d)) {
          for (const [k, v] of Object.entries(d)) {
            if (
              !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ||
              (typeof v === 'string' && hasJinja(v)) ||
              isMap(v)
            ) {
              report.add(
                'skipped',
                ['parameters', 'env', 'default'],
                `env ${k}: not converted (not a name and plain value)`,
                k,
                p,
              );
              continue;
            }
            out.prefix.push(`export ${k}='${String(v).replace(/'/g, `'\\''`)}'`);
          }
          fixedNote(p);
        } else if (d !== undefined || s.immutable !== true) {
          report.add(
            'skipped',
            at(p),
            'env without a mapping default is not converted',
            undefined,
            p,
          );
        }
        break;
      case 'timeout':
        if (typeof d === 'number' && Number.isInteger(d) && d > 0) {
          out.timeout = `${d}s`;
          fixedNote(p);
          report.add('converted', at(p), `timeout ${d}s is the runbook's timeout`, undefined, p);
        } else if (d !== undefined) {
          report.add(
            'skipped',
            at(p),
            'timeout must be a whole number of seconds: not converted',
            undefined,
            p,
          );
        }
        break;
      case 'parallel':
        if (typeof d === 'boolean') out.strategy = d ? 'parallel' : 'sequential';
        break;
      case 'hosts':
        if (typeof d === 'string' && d.trim() && !hasJinja(d)) {
          const hosts = d
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean);
          const wrong = hosts.filter((h) => !HOST_RE.test(h));
          if (wrong.length) {
            report.add(
              'error',
              at(p),
              `hosts: ${wrong.join(', ')} is not a node name`,
              'default',
              p,
            );
            out.bad = true;
          } else {
            out.hosts = hosts;
            fixedNote(p);
            report.add(
              'converted',
              at(p),
              `hosts ${hosts.join(', ')} are the target nodes (by name, from the inventory)`,
              undefined,
              p,
            );
          }
        } else if (d !== undefined) {
          report.add(
            'skipped',
            at(p),
            'hosts without a plain default is not converted',
            'default',
            p,
          );
          out.bad = true;
        }
        break;
    }
  }
  if (remote && !out.hosts && !out.bad) {
    out.hostsOption = {
      name: 'hosts',
      type: 'string',
      required: true,
      description: 'The node to run on (its name in the inventory)',
      pattern: '[A-Za-z0-9][A-Za-z0-9._-]*',
    };
    report.add(
      'changed',
      [],
      'hosts is given at run time: option hosts names one node per run (StackStorm took a comma-separated list); for several nodes, give targets a tag or attribute filter',
      'runner_type',
      'hosts',
    );
  }
  return out;
}

const INTERPRETERS: Record<string, string> = {
  sh: '/bin/sh',
  bash: '/bin/bash',
  dash: '/bin/dash',
  ksh: '/bin/ksh',
  zsh: '/bin/zsh',
};
const STDIN_INTERPRETERS = ['python', 'python3', 'perl', 'ruby', 'node'];

/**
 * An entry point as a `script` step. A shell script gets its arguments with `set --` before its
 * text; a python, perl, ruby or node script is fed to its interpreter on stdin from a quoted
 * here-document (`python3 - ARGS`), so it keeps reading `sys.argv` as under StackStorm.
 */
function scriptStep(
  entry: ImportInput,
  args: string,
  prefix: string,
): { script: string; interpreter?: string } | { skip: string } {
  const text = entry.text.replace(/\r\n/g, '\n');
  if (hasJinja(text) || text.includes('{{'))
    return { skip: `${entry.file} contains {{ … }}, which Firebreak would read as templates` };
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
  let prog = shebang ? shebang[1].replace(/^.*\//, '') : 'sh';
  if (prog === 'env' && shebang?.[2]) prog = shebang[2].replace(/^.*\//, '');
  const setArgs = args ? `set -- ${args}\n` : '';
  const head = prefix ? `${prefix}\n` : '';
  if (INTERPRETERS[prog]) {
    const lines = text.split('\n');
    const first = shebang ? `${lines.shift()}\n` : '';
    return {
      interpreter: INTERPRETERS[prog],
      script: `${first}${head}${setArgs}${lines.join('\n')}`,
    };
  }
  const base = prog.replace(/[0-9.]+$/, '');
  if (STDIN_INTERPRETERS.includes(prog) || STDIN_INTERPRETERS.includes(base)) {
    let delim = 'FIREBREAK_SCRIPT';
    while (text.split('\n').includes(delim)) delim += '_';
    const exe = prog === 'python' ? 'python3' : prog;
    return {
      script: `${head}${setArgs}exec ${exe} - "$@" <<'${delim}'\n${text.endsWith('\n') ? text : `${text}\n`}${delim}\n`,
    };
  }
  return { skip: `${entry.file} runs with ${prog}, which the import does not know how to start` };
}

/** The tasks of a workflow file, each as a `skipped` finding with its line. */
function reportWorkflowTasks(input: ImportInput, runner: string, out: Finding[], ref: string) {
  const loaded = loadYamlSource(input.file, input.text, MAX_BYTES);
  if (!loaded.ok) {
    for (const p of loaded.problems)
      out.push({
        level: 'error',
        source: { file: input.file, line: p.line },
        subject: ref,
        message: `does not parse: ${p.message}`,
      });
    return;
  }
  const data = loaded.data;
  const tasks: Array<{ name: string; action: string; path: PathKey[] }> = [];
  if (isMap(data) && Array.isArray(data.chain)) {
    data.chain.forEach((t, i) => {
      if (isMap(t))
        tasks.push({ name: text(t.name), action: text(t.ref ?? '?'), path: ['chain', i] });
    });
  } else if (isMap(data) && isMap(data.tasks)) {
    for (const [n, t] of Object.entries(data.tasks))
      tasks.push({
        name: n,
        action: isMap(t) ? text(t.action ?? '?').split(' ')[0] : '?',
        path: ['tasks', n],
      });
  } else if (isMap(data)) {
    // Mistral v2: version plus one key per workflow, each with tasks.
    for (const [wf, body] of Object.entries(data)) {
      if (!isMap(body) || !isMap(body.tasks)) continue;
      for (const [n, t] of Object.entries(body.tasks))
        tasks.push({
          name: `${wf}.${n}`,
          action: isMap(t) ? text(t.action ?? t.workflow ?? '?').split(' ')[0] : '?',
          path: [wf, 'tasks', n],
        });
    }
  }
  if (!tasks.length) {
    out.push({
      level: 'skipped',
      source: { file: input.file, line: 1 },
      subject: ref,
      message: `no ${runner} tasks found`,
    });
    return;
  }
  for (const t of tasks) {
    const p = t.path.slice(0, -1);
    const last = t.path[t.path.length - 1];
    const line =
      typeof last === 'string' ? loaded.locate.at(p, last).line : loaded.locate.at(t.path).line;
    out.push({
      level: 'skipped',
      source: { file: input.file, line, path: pathText(t.path) },
      subject: `${ref} task ${t.name}`,
      message: `task ${t.name} (${t.action}) is not converted`,
    });
  }
}
