import type { PathKey } from '../../common/yaml-source.js';
import { OPTION_NAME_RE } from '../../runbooks/runbook.schema.js';
import { didYouMean } from '../../common/suggest.js';
import { slugify } from '../shell-refs.js';
import { hasJinja, type ParamValue } from './jinja.js';
import { an, isMap, text, type Json, type Report } from './source.js';

/**
 * An action's parameters → Firebreak options (typed, with their checks and defaults), fixed
 * values (immutable with a default), the runner's own parameters (cmd, cwd, env, hosts…: for
 * runner.ts) and a script's positional and named arguments.
 */

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

export interface Option {
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

export interface Parameters {
  options: Option[];
  /** Each parameter a command or script argument may refer to: an option, or a fixed value. */
  values: Map<string, ParamValue>;
  positional: Array<{ param: string; position: number }>;
  named: string[];
  /** The runner's parameters, by name, as the action declares them. */
  runnerSpec: Record<string, Json>;
  bad: boolean;
}

export function convertParameters(
  params: Json,
  { runnerParams, script }: { runnerParams: readonly string[]; script: boolean },
  report: Report,
): Parameters {
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
  return { options, values, positional, named, runnerSpec, bad };
}

function optionName(param: string): string {
  const n = slugify(param, { sep: '_', camel: true });
  return /^[a-z]/.test(n) ? n : `p_${n}`.slice(0, 63).replace(/_+$/, '');
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
