import { posix } from 'node:path';
import { stringify } from 'yaml';
import { didYouMean } from '../../common/suggest.js';
import { parseRunbook } from '../../runbooks/runbook.parser.js';
import { NAME_RE } from '../../runbooks/runbook.schema.js';
import type { ImportInput } from '../kinds.js';
import type { Finding, ImportedFile, ImportResult } from '../report.js';
import { slugify } from '../shell-refs.js';
import { translateShell } from './jinja.js';
import { convertParameters } from './parameters.js';
import {
  CMD_RUNNER_PARAMS,
  COMMON_RUNNER_PARAMS,
  REMOTE_RUNNER_PARAMS,
  RUNNER_ALIASES,
  runnerSettings,
  scriptStep,
  SHELL_RUNNERS,
} from './runner.js';
import { an, isMap, loadFile, norm, Report, type Json, type Source } from './source.js';
import { reportWorkflowTasks, WORKFLOW_RUNNERS } from './workflow.js';

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
 *
 * This file: the action metadata → one runbook. Parameters → options: parameters.ts; the
 * runners' own parameters and script steps: runner.ts; workflows: workflow.ts.
 */

const YAML_FILE = /\.(ya?ml|json)$/i;

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

/** `linux.rm` → `linux-rm`: Firebreak runbook names are lower-case letters, digits and dashes. */
export function runbookName(pack: string | undefined, name: string): string {
  const slug = slugify(`${pack ? `${pack}-` : ''}${name}`);
  return slug.length >= 2 ? slug : `${slug || 'action'}-action`;
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
    const loaded = loadFile(input, input.file);
    if (!loaded.ok) {
      findings.push(...loaded.findings);
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

  const {
    options,
    values,
    positional,
    named,
    runnerSpec,
    bad: badParams,
  } = convertParameters(params, { runnerParams, script }, report);
  let bad = badParams;

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
