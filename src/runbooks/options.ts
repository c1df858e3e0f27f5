import type { FieldProblem } from '../common/errors.js';
import type { OptionDefinition } from './runbook.schema.js';
import { didYouMean } from '../common/suggest.js';

export interface OptionProblem extends FieldProblem {
  /** The option's name and the rule it broke, e.g. `pattern`, `max`, `required`. */
  option: string;
  rule: string;
}

export interface ValidatedOptions {
  values: Record<string, unknown>;
  /** Names of secure options: mask their values everywhere. */
  secure: Set<string>;
  /** Secret values themselves, for masking output and audit details. */
  secretValues: string[];
}

/**
 * Quoting keeps a value one word, but a word starting with `-` is still an option to the command
 * (`--checkpoint-action=exec=…` for tar, `-exec` for find, `--upload-pack` for git), so string,
 * secure and list values may not start with one unless the option says `allowLeadingDash: true`.
 */
const LEADING_DASH =
  'must not start with "-": the command would read it as an option (the option may set allowLeadingDash: true)';

const DEFAULT_MAX_LENGTH = 1024;
const DEFAULT_MAX_ITEMS = 100;

function fullMatch(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'u');
}

/**
 * Validates and types option values: the one function the API, the plan and the engine use.
 * Values may come typed (JSON) or as strings (CLI `-o key=value`, Slack); each problem names the
 * option and the rule. Never returns a partially valid set.
 */
export function validateOptions(
  defs: readonly OptionDefinition[],
  input: Record<string, unknown>,
): { ok: true; options: ValidatedOptions } | { ok: false; problems: OptionProblem[] } {
  const problems: OptionProblem[] = [];
  const values: Record<string, unknown> = {};
  const names = defs.map((d) => d.name);
  const fail = (option: string, rule: string, message: string) =>
    problems.push({ path: `options.${option}`, option, rule, message });

  for (const key of Object.keys(input)) {
    if (!names.includes(key)) fail(key, 'unknown', `unknown option${didYouMean(key, names)}`);
  }

  for (const def of defs) {
    const given = Object.prototype.hasOwnProperty.call(input, def.name)
      ? input[def.name]
      : undefined;
    const raw =
      given === undefined || given === null ? ('default' in def ? def.default : undefined) : given;
    if (raw === undefined) {
      if (def.required) fail(def.name, 'required', 'is required');
      continue;
    }
    const before = problems.length;
    const v = coerce(def, raw, (rule, message) => fail(def.name, rule, message));
    if (problems.length === before) values[def.name] = v;
  }
  if (problems.length) return { ok: false, problems };
  const secure = new Set(defs.filter((d) => d.type === 'secure').map((d) => d.name));
  const secretValues = [...secure]
    .map((n) => values[n])
    .filter((v): v is string => typeof v === 'string' && v !== '');
  return { ok: true, options: { values, secure, secretValues } };
}

function coerce(
  def: OptionDefinition,
  raw: unknown,
  fail: (rule: string, message: string) => void,
): unknown {
  switch (def.type) {
    case 'string':
    case 'secure': {
      if (typeof raw !== 'string') return fail('type', 'must be a string');
      checkText(raw, def, fail);
      // The message names the rule, never the value (a secure value is never echoed).
      if (raw.startsWith('-') && !def.allowLeadingDash)
        return fail('allowLeadingDash', LEADING_DASH);
      return raw;
    }
    case 'integer':
    case 'number': {
      // Plain decimal strings only: Number() would also take 0x10, 0b11 and 1e3.
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim())
            ? Number(raw)
            : NaN;
      if (!Number.isFinite(n))
        return fail('type', `must be ${def.type === 'integer' ? 'an integer' : 'a number'}`);
      if (def.type === 'integer' && !Number.isInteger(n)) return fail('type', 'must be an integer');
      if (def.min !== undefined && n < def.min) return fail('min', `must be at least ${def.min}`);
      if (def.max !== undefined && n > def.max) return fail('max', `must be at most ${def.max}`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      return fail('type', 'must be true or false');
    }
    case 'enum': {
      if (typeof raw !== 'string' || !def.values.includes(raw)) {
        return fail('values', `must be one of ${def.values.join(', ')}`);
      }
      return raw;
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === 'string'
          ? raw === ''
            ? []
            : raw.split(',').map((s) => s.trim())
          : null;
      if (!items || !items.every((i) => typeof i === 'string'))
        return fail('type', 'must be a list of strings');
      const max = def.max ?? DEFAULT_MAX_ITEMS;
      if (def.min !== undefined && items.length < def.min)
        return fail('min', `must have at least ${def.min} items`);
      if (items.length > max) return fail('max', `must have at most ${max} items`);
      for (const [i, item] of items.entries()) {
        if (def.values && !def.values.includes(item))
          return fail('values', `item ${i + 1} must be one of ${def.values.join(', ')}`);
        if (def.pattern && !fullMatch(def.pattern).test(item))
          return fail('pattern', `item ${i + 1} must match ${def.pattern}`);
        if (item.includes('\0')) return fail('type', `item ${i + 1} contains a NUL character`);
        if (item.startsWith('-') && !def.allowLeadingDash)
          return fail('allowLeadingDash', `item ${i + 1} ${LEADING_DASH}`);
      }
      return items;
    }
  }
}

function checkText(
  value: string,
  def: { type: string; pattern?: string; min?: number; max?: number },
  fail: (rule: string, message: string) => void,
) {
  const max = def.max ?? DEFAULT_MAX_LENGTH;
  if (value.includes('\0')) return fail('type', 'contains a NUL character');
  if (def.min !== undefined && value.length < def.min)
    return fail('min', `must be at least ${def.min} characters`);
  if (value.length > max) return fail('max', `must be at most ${max} characters`);
  // A secure value's pattern failure never echoes the value.
  if (def.pattern && !fullMatch(def.pattern).test(value))
    return fail('pattern', `must match ${def.pattern}`);
}
