import { split as shlexSplit } from 'shlex';
import { stringify } from 'yaml';
import { cronProblem, zoneProblem } from '../../common/cron.js';
import type { ImportInput } from '../kinds.js';
import type { Finding, FindingLevel, ImportedFile, ImportResult } from '../report.js';
import { parseRunbook } from '../../runbooks/runbook.parser.js';
import { isShellInterpreter } from '../../runbooks/script-env.js';
import { convertShell, type Resolution } from './shell.js';
import { lineOf, loadRundeckXml, loadRundeckYaml, MAX_IMPORT_BYTES, type Lines } from './source.js';
import { jobSlug, optionSlug, pathSlug, stepSlug, uniqueName } from './names.js';
import { convertFilter } from './nodefilter.js';
import { quartzToCron } from './schedule.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
const bool = (v: unknown): boolean | undefined =>
  v === undefined || v === null ? undefined : v === true || str(v)?.toLowerCase() === 'true';

/**
 * Keys of a Rundeck job (YAML export; the XML is translated to these). Those that only shape
 * Rundeck's UI or bookkeeping (uuid, id, project, defaultTab, nodeFilterEditable, additional) are
 * read and need nothing converted; every other one is converted or reported.
 */
const JOB_KEYS = new Set([
  'name',
  'description',
  'group',
  'uuid',
  'id',
  'project',
  'loglevel',
  'options',
  'sequence',
  'nodefilters',
  'schedule',
  'scheduleEnabled',
  'executionEnabled',
  'timeZone',
  'timeout',
  'retry',
  'loglimit',
  'loglimitAction',
  'loglimitStatus',
  'notification',
  'notifyAvgDurationThreshold',
  'multipleExecutions',
  'defaultTab',
  'nodeFilterEditable',
  'nodesSelectedByDefault',
  'plugins',
  'orchestrator',
  'additional',
  'dispatch',
  'successOnEmptyNodeFilter',
  'nodefilterEditable',
]);

interface JobRef {
  file: string;
  index: number;
  job: Obj;
  lines: Lines;
  /** Line of the job in its file. */
  line: number;
  name: string;
  folder: string;
  /** Rundeck option name → Firebreak option name. */
  options: Map<string, string>;
}

interface StepMeta {
  line: number;
  path: string;
  subject: string;
}

export function convertRundeckJobs(inputs: ImportInput[]): ImportResult {
  const findings: Finding[] = [];
  const add = (
    level: FindingLevel,
    file: string,
    line: number | undefined,
    path: string | undefined,
    subject: string,
    message: string,
  ) =>
    findings.push({
      level,
      source: { file, ...(line !== undefined ? { line } : {}), ...(path ? { path } : {}) },
      subject,
      message,
    });

  // Pass 1: read every file, give every job its Firebreak name (collisions resolved across the
  // whole input) so job references resolve through one table.
  const jobs: JobRef[] = [];
  const taken = new Set<string>();
  for (const input of inputs) {
    if (Buffer.byteLength(input.text) > MAX_IMPORT_BYTES) {
      add(
        'error',
        input.file,
        1,
        undefined,
        'file',
        `larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`,
      );
      continue;
    }
    const xml =
      /\.xml$/i.test(input.file) ||
      (!/\.ya?ml$/i.test(input.file) && input.text.trimStart().startsWith('<'));
    const loaded = xml ? loadRundeckXml(input.text) : loadRundeckYaml(input.text);
    if (!loaded.ok) {
      add('error', input.file, loaded.line, undefined, 'file', `does not parse: ${loaded.message}`);
      continue;
    }
    const { data, lines, firstLine } = loaded.jobs;
    if (!Array.isArray(data)) {
      add(
        'error',
        input.file,
        firstLine,
        undefined,
        'file',
        'a Rundeck job file is a list of jobs (YAML "- name: …" entries or an XML <joblist>)',
      );
      continue;
    }
    data.forEach((job, index) => {
      const line = lineOf(lines, data, index) ?? firstLine;
      const path = `jobs[${index}]`;
      if (!isObj(job)) {
        add(
          'error',
          input.file,
          line,
          path,
          `job ${index + 1}`,
          'a job is a mapping with name, sequence and optional options, nodefilters, schedule',
        );
        return;
      }
      let bad = false;
      for (const key of Object.keys(job)) {
        if (!JOB_KEYS.has(key)) {
          bad = true;
          add(
            'error',
            input.file,
            lineOf(lines, job, key) ?? line,
            `${path}.${key}`,
            `job ${str(job.name) ?? index + 1}`,
            `unknown key "${key}" (not a Rundeck job key)`,
          );
        }
      }
      const rdName = str(job.name);
      if (!rdName?.trim()) {
        add('error', input.file, line, `${path}.name`, `job ${index + 1}`, 'a job needs a name');
        return;
      }
      if (bad) return;
      const group = (str(job.group) ?? '')
        .split('/')
        .map((s) => s.trim())
        .filter(Boolean);
      const base = jobSlug(rdName);
      const name = uniqueName(base, taken, group.length ? jobSlug(group.join('-')) : undefined);
      taken.add(name);
      const subject = `job "${group.length ? `${group.join('/')}/` : ''}${rdName}"`;
      if (name !== rdName)
        add(
          'changed',
          input.file,
          lineOf(lines, job, 'name') ?? line,
          `${path}.name`,
          subject,
          `named ${name} (Firebreak names are 2-63 lower-case letters, digits and dashes${name !== base ? '; another job already had ' + base : ''})`,
        );
      jobs.push({
        file: input.file,
        index,
        job,
        lines,
        line,
        name,
        folder: group.map(pathSlug).filter(Boolean).join('/'),
        options: new Map(),
      });
    });
  }
  const byUuid = new Map<string, JobRef>();
  const byGroupName = new Map<string, JobRef[]>();
  for (const j of jobs) {
    const uuid = str(j.job.uuid) ?? str(j.job.id);
    if (uuid) byUuid.set(uuid, j);
    const key = `${(str(j.job.group) ?? '').replace(/^\/+|\/+$/g, '')}/${str(j.job.name)}`;
    byGroupName.set(key, [...(byGroupName.get(key) ?? []), j]);
    byGroupName.set(`*/${str(j.job.name)}`, [
      ...(byGroupName.get(`*/${str(j.job.name)}`) ?? []),
      j,
    ]);
    // Option names first, so a job reference can map the child's options.
    const opts = normalizeOptions(j.job.options);
    const used = new Set<string>();
    for (const o of opts) {
      const rd = str(o.name);
      if (!rd) continue;
      const fb = uniqueName(optionSlug(rd), used, undefined, '_');
      used.add(fb);
      j.options.set(rd, fb);
    }
  }

  // Pass 2: each job to a runbook.
  const results: Array<{
    ref: JobRef;
    def: Obj;
    steps: StepMeta[];
    onError: StepMeta[];
    subject: string;
  }> = [];
  for (const ref of jobs) {
    const r = convertJob(ref, { byUuid, byGroupName }, add);
    if (r) results.push({ ref, ...r });
  }

  // Pass 3: each runbook through the runbook parser (what `firebreak lint` runs): a step the
  // parser refuses is left out and reported with the parser's reason; a runbook left without
  // steps, or a call to a runbook that is not produced, is reported too. Until nothing changes.
  const files: ImportedFile[] = [];
  for (let round = 0; round < 10; round++) {
    let changed = false;
    const produced = new Set(results.map((r) => r.ref.name));
    for (const r of results) {
      for (const list of ['steps', 'onError'] as const) {
        const steps = (r.def[list] as Obj[] | undefined) ?? [];
        for (let i = steps.length - 1; i >= 0; i--) {
          const target = (steps[i].runbook as Obj | undefined)?.name as string | undefined;
          if (target && !produced.has(target)) {
            const meta = (list === 'steps' ? r.steps : r.onError)[i];
            add(
              'skipped',
              r.ref.file,
              meta.line,
              meta.path,
              r.subject,
              `${meta.subject} not converted: it calls job ${target}, which is not converted`,
            );
            steps.splice(i, 1);
            (list === 'steps' ? r.steps : r.onError).splice(i, 1);
            changed = true;
          }
        }
      }
    }
    for (let k = results.length - 1; k >= 0; k--) {
      const r = results[k];
      for (let guard = 0; guard < 100; guard++) {
        if (!(r.def.steps as Obj[]).length) break;
        if (Array.isArray(r.def.onError) && !r.def.onError.length) delete r.def.onError;
        const parsed = parseRunbook(
          `${r.ref.name}.yaml`,
          stringify(r.def, { aliasDuplicateObjects: false }),
        );
        if (parsed.ok) break;
        const p = parsed.problems[0];
        const m = /^(steps|onError)\[(\d+)\]/.exec(p.path);
        const s = /^schedules\[(\d+)\]/.exec(p.path);
        if (m) {
          const list = m[1] as 'steps' | 'onError';
          const i = Number(m[2]);
          const meta = (list === 'steps' ? r.steps : r.onError)[i];
          add(
            'skipped',
            r.ref.file,
            meta.line,
            meta.path,
            r.subject,
            `${meta.subject} not converted: ${p.message}`,
          );
          (r.def[list] as Obj[]).splice(i, 1);
          (list === 'steps' ? r.steps : r.onError).splice(i, 1);
          changed = true;
        } else if (s) {
          add(
            'skipped',
            r.ref.file,
            lineOf(r.ref.lines, r.ref.job, 'schedule') ?? r.ref.line,
            `jobs[${r.ref.index}].schedule`,
            r.subject,
            `schedule not converted: ${p.message}`,
          );
          (r.def.schedules as Obj[]).splice(Number(s[1]), 1);
          if (!(r.def.schedules as Obj[]).length) delete r.def.schedules;
        } else {
          add(
            'error',
            r.ref.file,
            r.ref.line,
            `jobs[${r.ref.index}]`,
            r.subject,
            `converted runbook does not lint (an importer bug, please report it): ${p.path ? `${p.path}: ` : ''}${p.message}`,
          );
          results.splice(k, 1);
          changed = true;
          break;
        }
      }
      if (results[k] === r && !(r.def.steps as Obj[]).length) {
        add(
          'skipped',
          r.ref.file,
          r.ref.line,
          `jobs[${r.ref.index}]`,
          r.subject,
          'not converted: none of its steps could be converted',
        );
        results.splice(k, 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (const r of results) {
    add(
      'converted',
      r.ref.file,
      r.ref.line,
      `jobs[${r.ref.index}]`,
      r.subject,
      `runbook ${r.ref.name} (${(r.def.steps as Obj[]).length} step${(r.def.steps as Obj[]).length === 1 ? '' : 's'})`,
    );
    const header = `# Imported from Rundeck by \`firebreak import rundeck\`: ${r.subject} in ${r.ref.file}:${r.ref.line}\n`;
    files.push({
      path: `${r.ref.folder ? `${r.ref.folder}/` : ''}${r.ref.name}.yaml`,
      name: r.ref.name,
      content: header + stringify(r.def, { lineWidth: 0, aliasDuplicateObjects: false }),
    });
  }
  const order = new Map(inputs.map((input, i) => [input.file, i]));
  findings.sort(
    (a, b) =>
      (order.get(a.source.file) ?? 0) - (order.get(b.source.file) ?? 0) ||
      (a.source.line ?? 0) - (b.source.line ?? 0),
  );
  return { files, findings };
}

function normalizeOptions(v: unknown): Obj[] {
  if (Array.isArray(v)) return v.filter(isObj);
  // The older map form: { optname: { … } }.
  if (isObj(v)) return Object.entries(v).map(([name, o]) => ({ name, ...(isObj(o) ? o : {}) }));
  return [];
}

type Add = (
  level: FindingLevel,
  file: string,
  line: number | undefined,
  path: string | undefined,
  subject: string,
  message: string,
) => void;

interface Tables {
  byUuid: Map<string, JobRef>;
  byGroupName: Map<string, JobRef[]>;
}

/** `120`, `6h 30m`, `1d 6h`, `1h1m1s` → a Firebreak duration, or null. */
export function rundeckDuration(v: string): string | null {
  const t = v.trim();
  let seconds = 0;
  if (/^\d+$/.test(t)) seconds = Number(t);
  else {
    const parts = [...t.matchAll(/(\d+(?:\.\d+)?)\s*([smhd])/g)];
    if (!parts.length || t.replace(/(\d+(?:\.\d+)?)\s*([smhd])/g, '').trim() !== '') return null;
    for (const [, n, u] of parts)
      seconds += Number(n) * { s: 1, m: 60, h: 3600, d: 86400 }[u as 's'];
  }
  seconds = Math.round(seconds);
  if (seconds <= 0) return null;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function convertJob(ref: JobRef, tables: Tables, add: Add) {
  const { job, lines, file } = ref;
  const jp = `jobs[${ref.index}]`;
  const group = (str(job.group) ?? '')
    .split('/')
    .map((s) => s.trim())
    .filter(Boolean);
  const subject = `job "${group.length ? `${group.join('/')}/` : ''}${str(job.name)}"`;
  const at = (obj: unknown, key: string | number, fallback = ref.line) =>
    lineOf(lines, obj, key) ?? fallback;
  const report = (level: FindingLevel, line: number, path: string, message: string) =>
    add(level, file, line, path, subject, message);

  const def: Obj = { name: ref.name };
  const description = (str(job.description) ?? '').trim();
  def.description = (description || `Imported from the Rundeck job "${str(job.name)}"`).slice(
    0,
    2000,
  );
  def.kind = 'remediation';
  const tags = [...new Set(group.map(pathSlug).filter((t) => /^[a-z0-9][a-z0-9._-]*$/.test(t)))];
  if (tags.length) def.tags = tags;

  // Options.
  const options: Obj[] = [];
  const rawOptions = normalizeOptions(job.options);
  rawOptions.forEach((o, i) => {
    const rd = str(o.name);
    const line = Array.isArray(job.options) ? at(job.options, i) : at(job, 'options');
    const op = `${jp}.options[${i}]`;
    if (!rd) {
      report('skipped', line, op, 'option without a name not converted');
      return;
    }
    const name = ref.options.get(rd)!;
    const os = `option ${rd}`;
    if (name !== rd)
      report(
        'changed',
        line,
        op,
        `${os} named ${name} (Firebreak option names are lower_snake_case)`,
      );
    const out: Obj = { name, type: 'string' };
    const desc = str(o.description)?.trim();
    if (desc) out.description = desc.slice(0, 500);
    if (bool(o.required)) out.required = true;
    const delimiter = str(o.valuesListDelimiter) ?? ',';
    const values = Array.isArray(o.values)
      ? o.values.map((v) => String(v))
      : str(o.values) !== undefined
        ? str(o.values)!
            .split(delimiter)
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    const dflt = str(o.value);
    const regex = str(o.regex);
    if (o.type === 'file') {
      report(
        'skipped',
        line,
        op,
        `${os}: a file option (an upload) has no Firebreak equivalent; the option is a string`,
      );
    }
    if (str(o.valuesUrl))
      report(
        'skipped',
        line,
        op,
        `${os}: remote values from valuesUrl (${str(o.valuesUrl)}) are not fetched; the option is free text`,
      );
    if (bool(o.isDate))
      report(
        'changed',
        line,
        op,
        `${os}: a date option becomes free text (format ${str(o.dateFormat) ?? 'unspecified'})`,
      );
    if (bool(o.secure)) {
      out.type = 'secure';
      if (dflt !== undefined || str(o.storagePath))
        report(
          'skipped',
          line,
          op,
          `${os}: the secure default (${str(o.storagePath) ? `key storage ${str(o.storagePath)}` : 'a literal value'}) is not converted: a secure option has no default; keep secrets in the credential store`,
        );
      if (!bool(o.valueExposed))
        report(
          'changed',
          line,
          op,
          `${os}: secure; Rundeck kept it for remote authentication only (valueExposed false), Firebreak passes it to steps that reference it, masked`,
        );
      if (regex) out.pattern = regex;
    } else if (bool(o.multivalued)) {
      out.type = 'list';
      const d = str(o.delimiter) ?? ',';
      if (values?.length && bool(o.enforced)) out.values = values;
      if (regex) out.pattern = regex;
      if (dflt !== undefined)
        out.default = dflt
          .split(d)
          .map((s) => s.trim())
          .filter(Boolean);
      report(
        'changed',
        line,
        op,
        `${os}: multi-valued (delimiter "${d}") becomes a list: a reference passes each item as its own word, where Rundeck passed one string joined with "${d}"`,
      );
    } else if (values?.length && bool(o.enforced)) {
      out.type = 'enum';
      out.values = [...new Set(values.filter(Boolean))];
      if (dflt !== undefined) {
        if ((out.values as string[]).includes(dflt)) out.default = dflt;
        else
          report(
            'skipped',
            line,
            op,
            `${os}: default "${dflt}" is not one of its values; no default`,
          );
      }
    } else {
      out.type = 'string';
      if (regex) out.pattern = regex;
      if (dflt !== undefined) out.default = dflt;
      if (values?.length) {
        out.description = `${desc ? `${desc} ` : ''}(suggested: ${values.join(', ')})`.slice(
          0,
          500,
        );
        report(
          'changed',
          line,
          op,
          `${os}: suggested values (not enforced) are kept in the description`,
        );
      }
    }
    if (bool(o.multivalueAllSelected) && values?.length && out.type === 'list')
      out.default = values;
    options.push(out);
  });
  if (options.length) def.options = options;

  // Targets.
  const nf = isObj(job.nodefilters) ? job.nodefilters : undefined;
  const dispatch =
    nf && isObj(nf.dispatch) ? nf.dispatch : isObj(job.dispatch) ? job.dispatch : undefined;
  const nfLine = at(job, 'nodefilters');
  let onNodes = false;
  const targets: Obj = {};
  if (nf && (str(nf.filter) !== undefined || isObj(nf.include) || isObj(nf.exclude))) {
    const conv = convertFilter(nf);
    for (const s of conv.skipped)
      report('skipped', at(nf, 'filter', nfLine), `${jp}.nodefilters`, `node filter ${s}`);
    if (conv.filter === null) {
      report(
        'skipped',
        nfLine,
        `${jp}.nodefilters`,
        'node filter not converted; the runbook has no targets: add targets.nodes by hand',
      );
    } else {
      onNodes = true;
      targets.nodes = conv.filter;
      report(
        'converted',
        at(nf, 'filter', nfLine),
        `${jp}.nodefilters`,
        `node filter → targets.nodes ${JSON.stringify(conv.filter)}`,
      );
    }
    if (bool(nf.excludePrecedence) === false)
      report(
        'changed',
        nfLine,
        `${jp}.nodefilters`,
        'excludePrecedence false: in Firebreak an exclusion always wins',
      );
  } else {
    report(
      'changed',
      ref.line,
      jp,
      'no node filter: Rundeck ran the steps on its own server, so they run on the Firebreak host (on: local)',
    );
  }
  const seq = isObj(job.sequence)
    ? job.sequence
    : Array.isArray(job.sequence)
      ? { commands: job.sequence }
      : undefined;
  const strategy = str(seq?.strategy) ?? 'node-first';
  const threads = Number(str(dispatch?.threadcount) ?? '1') || 1;
  if (onNodes) {
    if (strategy === 'step-first') {
      targets.strategy = 'parallel';
      targets.maxParallel = Math.max(1, Math.min(1000, threads));
    } else if (threads > 1) {
      targets.strategy = 'rolling';
      targets.batchSize = threads;
      report(
        'changed',
        at(dispatch, 'threadcount', nfLine),
        `${jp}.nodefilters.dispatch.threadcount`,
        `node-first on ${threads} threads becomes a rolling run of ${threads} nodes at a time (each batch runs all steps before the next)`,
      );
    } else targets.strategy = 'sequential';
    if (strategy !== 'node-first' && strategy !== 'step-first')
      report(
        'skipped',
        at(seq, 'strategy'),
        `${jp}.sequence.strategy`,
        `workflow strategy "${strategy}" (a plugin) not converted: steps run in order, ${String(targets.strategy)} across nodes`,
      );
    if (bool(dispatch?.keepgoing)) targets.keepGoing = true;
    if (
      str(dispatch?.rankOrder) === 'descending' ||
      (str(dispatch?.rankAttribute) && str(dispatch?.rankAttribute) !== 'nodename')
    )
      report(
        'changed',
        at(dispatch, 'rankOrder', nfLine),
        `${jp}.nodefilters.dispatch`,
        `node order by ${str(dispatch?.rankAttribute) ?? 'name'} ${str(dispatch?.rankOrder) ?? 'ascending'} not converted: Firebreak orders nodes by name`,
      );
    if (bool(job.successOnEmptyNodeFilter)) targets.allowEmpty = true;
    def.targets = targets;
  } else if (seq?.strategy && strategy !== 'node-first' && strategy !== 'step-first') {
    report(
      'skipped',
      at(seq, 'strategy'),
      `${jp}.sequence.strategy`,
      `workflow strategy "${strategy}" (a plugin) not converted: steps run in order`,
    );
  }
  if (isObj(job.orchestrator))
    report(
      'skipped',
      at(job, 'orchestrator'),
      `${jp}.orchestrator`,
      `orchestrator ${str(job.orchestrator.type) ?? ''} (a plugin) not converted`,
    );

  // References.
  const optionByEnv = new Map<string, string>();
  for (const [rd, fb] of ref.options)
    optionByEnv.set(rd.toUpperCase().replace(/[^A-Z0-9]/g, '_'), fb);
  const resolve = (context: string, name: string, form: 'text' | 'env'): Resolution => {
    if (context === 'option') {
      const fb =
        form === 'env' ? optionByEnv.get(name) : ref.options.get(name.replace(/\.value$/, ''));
      return fb ? { ref: `options.${fb}` } : { error: `the job has no option ${name}` };
    }
    if (context === 'node') {
      const n = form === 'env' ? name.toLowerCase().replace(/_/g, '-') : name;
      if (n === 'name' || n === 'nodename') return { ref: 'node.name' };
      if (n === 'hostname') return { ref: 'node.hostname' };
      if (n === 'username') return { ref: 'node.user' };
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(n)) return { ref: `node.attributes.${n}` };
      return { error: `node attribute ${name} is not a Firebreak node field` };
    }
    if (context === 'job') {
      const n = name.toLowerCase();
      if (n === 'name') return { literal: str(job.name)! };
      if (n === 'group') return { literal: str(job.group) ?? '' };
      if (n === 'project') return { literal: str(job.project) ?? '' };
      if (n === 'execid') return { ref: 'execution.id' };
      if (n === 'username' || n === 'user.name') return { ref: 'execution.actor' };
      return { error: `job.${name} has no Firebreak equivalent` };
    }
    if (context === 'globals')
      return { error: 'project globals are not converted: make it an option or write the value' };
    if (context === 'data' || context === 'export')
      return {
        error: 'data variables (captured by log filters) are not converted: use a step capture',
      };
    if (context === 'secureoption' || context === 'secureOption')
      return { error: 'secure option references for authentication are not converted' };
    return { error: `${context} references are not converted` };
  };

  // Steps.
  const keepgoing = bool(seq?.keepgoing) === true;
  const retry = convertRetry(job.retry, (m) =>
    report('skipped', at(job, 'retry'), `${jp}.retry`, m),
  );
  if (retry)
    report(
      'changed',
      at(job, 'retry'),
      `${jp}.retry`,
      `job retry becomes a retry of each step (attempts ${String(retry.attempts)}${retry.delay ? `, delay ${String(retry.delay)}` : ''})`,
    );
  const stepNames = new Set<string>();
  const steps: Obj[] = [];
  const metas: StepMeta[] = [];
  const onError: Obj[] = [];
  const onErrorMeta: StepMeta[] = [];
  const commands = Array.isArray(seq?.commands) ? seq.commands : [];
  if (!seq) report('skipped', ref.line, jp, 'no sequence: the job has no steps');
  const convertCommand = (cmd: unknown, line: number, path: string, label: string): Obj | null => {
    if (!isObj(cmd)) {
      report('skipped', line, path, `${label} not converted: not a mapping`);
      return null;
    }
    const desc = str(cmd.description)?.trim();
    const base = stepSlug(desc ?? '') || label.replace(/\s+/g, '-');
    const name = uniqueName(base.slice(0, 40), stepNames, undefined, '-', 1);
    stepNames.add(name);
    const step: Obj = { name };
    if (desc) step.description = desc.slice(0, 500);
    const shellFail = (errors: string[]) => {
      report('skipped', line, path, `${label} not converted: ${errors.join('; ')}`);
      return null;
    };
    if (cmd.exec !== undefined) {
      const c = convertShell(str(cmd.exec) ?? '', resolve);
      if (c.errors.length) return shellFail(c.errors);
      step.run = c.text;
    } else if (cmd.script !== undefined) {
      const body = str(cmd.script) ?? '';
      const interp = scriptInterpreter(body, str(cmd.scriptInterpreter));
      if ('error' in interp) return shellFail([interp.error]);
      if (interp.path !== '/bin/sh') step.interpreter = interp.path;
      const args = str(cmd.args)?.trim();
      if (isShellInterpreter(interp.path)) {
        const c = convertShell(body, resolve);
        if (c.errors.length) return shellFail(c.errors);
        let text = c.text;
        if (args) {
          const a = convertShell(args, resolve);
          if (a.errors.length) return shellFail(a.errors);
          // Rundeck passes args to the script: the same positional parameters.
          const nl = text.startsWith('#!') ? text.indexOf('\n') + 1 : 0;
          text = `${text.slice(0, nl)}set -- ${a.text}\n${text.slice(nl)}`;
          report(
            'changed',
            line,
            path,
            `${label}: arguments set as the script's positional parameters (set -- ${a.text})`,
          );
        }
        step.script = text;
      } else {
        if (args)
          return shellFail([
            `arguments to a ${interp.path} script cannot be passed (Firebreak passes values to non-shell scripts as environment variables)`,
          ]);
        if (/@(option|node|job)\.[A-Za-z0-9_.-]+@|\$\{(option|node|job)\.[^}]+\}/.test(body))
          return shellFail([
            `a ${interp.path} script cannot take templates: read FIREBREAK_OPTION_<NAME> from the environment instead`,
          ]);
        step.script = body
          .replace(/\bRD_OPTION_([A-Z0-9_]+)/g, (m, n: string) => {
            const fb = optionByEnv.get(n);
            return fb ? `FIREBREAK_OPTION_${fb.toUpperCase()}` : m;
          })
          .replace(/\bRD_NODE_NAME\b/g, 'FIREBREAK_NODE_NAME')
          .replace(/\bRD_NODE_HOSTNAME\b/g, 'FIREBREAK_NODE_HOSTNAME');
        if (/\bRD_[A-Z]+_[A-Z0-9_]+/.test(step.script as string))
          return shellFail([
            `uses Rundeck variables (${/\bRD_[A-Z]+_[A-Z0-9_]+/.exec(step.script as string)![0]}) with no Firebreak equivalent`,
          ]);
      }
      if (interp.changed) report('changed', line, path, `${label}: ${interp.changed}`);
    } else if (cmd.scriptfile !== undefined || cmd.scripturl !== undefined) {
      const what =
        cmd.scriptfile !== undefined
          ? `script file ${str(cmd.scriptfile) ?? ''} (on the Rundeck server)`
          : `script URL ${str(cmd.scripturl) ?? ''}`;
      report(
        'skipped',
        line,
        path,
        `${label} not converted: ${what} is not read at import; paste the script into a script step`,
      );
      return null;
    } else if (isObj(cmd.jobref)) {
      const jr = cmd.jobref;
      const uuid = str(jr.uuid);
      const gname = `${(str(jr.group) ?? '').replace(/^\/+|\/+$/g, '')}/${str(jr.name)}`;
      const target = uuid
        ? tables.byUuid.get(uuid)
        : (tables.byGroupName.get(gname) ??
          (jr.group === undefined ? tables.byGroupName.get(`*/${str(jr.name)}`) : undefined));
      const targetLabel = uuid ? `uuid ${uuid}` : `"${gname.replace(/^\//, '')}"`;
      if (!target || (Array.isArray(target) && target.length !== 1)) {
        report(
          'skipped',
          line,
          path,
          `${label} not converted: job reference ${targetLabel} ${Array.isArray(target) && target.length > 1 ? 'matches more than one job' : 'is not among the imported jobs'}; import it too`,
        );
        return null;
      }
      const child = Array.isArray(target) ? target[0] : target;
      const rb: Obj = { name: child.name };
      const argText = str(jr.args)?.trim();
      if (argText) {
        let words: string[];
        try {
          words = shlexSplit(argText);
        } catch {
          report(
            'skipped',
            line,
            path,
            `${label} not converted: job reference arguments do not parse: ${argText}`,
          );
          return null;
        }
        const childOptions: Obj = {};
        for (let w = 0; w < words.length; w++) {
          const m = /^-(.+)$/.exec(words[w]);
          if (!m) {
            report(
              'skipped',
              line,
              path,
              `${label}: job reference argument "${words[w]}" is not -name value; left out`,
            );
            continue;
          }
          const childName = child.options.get(m[1]);
          const value = words[w + 1] ?? '';
          w++;
          if (!childName) {
            report(
              'skipped',
              line,
              path,
              `${label}: job ${child.name} has no option ${m[1]}; argument left out`,
            );
            continue;
          }
          const converted = value.replace(
            /\$\{option\.([^}\s]+)\}|@option\.([A-Za-z0-9_.-]+)@/g,
            (s, a: string, b: string) => {
              const fb = ref.options.get(a ?? b);
              return fb ? `{{ options.${fb} }}` : s;
            },
          );
          if (/\$\{[a-z]+\.[^}]+\}|@[a-z]+\.[A-Za-z0-9_.-]+@/i.test(converted)) {
            report(
              'skipped',
              line,
              path,
              `${label} not converted: job reference argument ${value} has a reference Firebreak cannot pass`,
            );
            return null;
          }
          childOptions[childName] = converted;
        }
        if (Object.keys(childOptions).length) rb.options = childOptions;
      }
      if (bool(jr.nodeStep) !== true) rb.targets = 'own';
      if (isObj(jr.nodefilters) || isObj(jr.dispatch))
        report(
          'changed',
          line,
          path,
          `${label}: the node filter override of the job reference is not converted; the child runs on its own targets`,
        );
      if (bool(jr.nodeStep) === true && !onNodes) rb.targets = 'own';
      for (const k of Object.keys(jr))
        if (
          ![
            'name',
            'group',
            'uuid',
            'args',
            'nodeStep',
            'nodefilters',
            'dispatch',
            'project',
          ].includes(k)
        )
          report(
            'skipped',
            at(jr, k, line),
            `${path}.jobref.${k}`,
            `${label}: job reference setting ${k} not converted`,
          );
      step.runbook = rb;
      report(
        'converted',
        line,
        path,
        `${label}: job reference ${targetLabel} → runbook step calling ${child.name}${rb.targets === 'own' ? ' (on its own targets)' : " (on this run's nodes)"}`,
      );
    } else if (str(cmd.type)) {
      const type = str(cmd.type)!;
      const conf = isObj(cmd.configuration) ? cmd.configuration : {};
      if ((type === 'localexec' || type === 'exec-command') && str(conf.command)) {
        const c = convertShell(str(conf.command)!, resolve);
        if (c.errors.length) return shellFail(c.errors);
        step.run = c.text;
        if (type === 'localexec') step.on = 'local';
        report(
          'changed',
          line,
          path,
          `${label}: plugin step ${type} becomes a run step${type === 'localexec' ? ' on the Firebreak host' : ''}`,
        );
      } else {
        report(
          'skipped',
          line,
          path,
          `${label} not converted: ${bool(cmd.nodeStep) ? 'node' : 'workflow'} step plugin "${type}" has no Firebreak equivalent`,
        );
        return null;
      }
    } else {
      report(
        'skipped',
        line,
        path,
        `${label} not converted: unknown step (${Object.keys(cmd).join(', ')})`,
      );
      return null;
    }
    if (!onNodes && (step.run !== undefined || step.script !== undefined)) step.on = 'local';
    if (retry && (step.run !== undefined || step.script !== undefined)) step.retry = retry;
    if (keepgoing && !step.runbook) step.continueOnError = true;
    for (const k of Object.keys(cmd))
      if (
        ![
          'exec',
          'script',
          'args',
          'scriptfile',
          'scripturl',
          'scriptInterpreter',
          'interpreterArgsQuoted',
          'jobref',
          'type',
          'nodeStep',
          'configuration',
          'description',
          'errorhandler',
          'keepgoingOnSuccess',
          'fileExtension',
          'expandTokenInScriptFile',
        ].includes(k)
      )
        report(
          'skipped',
          at(cmd, k, line),
          `${path}.${k}`,
          `${label}: step setting ${k} not converted`,
        );
    if (str(cmd.fileExtension))
      report(
        'changed',
        line,
        path,
        `${label}: script file extension ${str(cmd.fileExtension)} not kept`,
      );
    return step;
  };
  commands.forEach((cmd, i) => {
    const line = at(seq!.commands, i, at(job, 'sequence'));
    const path = `${jp}.sequence.commands[${i}]`;
    const label = `step ${i + 1}`;
    const step = convertCommand(cmd, line, path, label);
    if (step) {
      steps.push(step);
      metas.push({ line, path, subject: label });
    }
    if (isObj(cmd) && cmd.errorhandler !== undefined) {
      const hl = at(cmd, 'errorhandler', line);
      const handler = convertCommand(
        cmd.errorhandler,
        hl,
        `${path}.errorhandler`,
        `error handler of step ${i + 1}`,
      );
      if (handler) {
        delete handler.continueOnError;
        onError.push(handler);
        onErrorMeta.push({
          line: hl,
          path: `${path}.errorhandler`,
          subject: `error handler of step ${i + 1}`,
        });
        report(
          'changed',
          hl,
          `${path}.errorhandler`,
          `error handler of step ${i + 1} → onError step ${String(handler.name)}: it runs after any failure of the run (not only this step's), and the run still fails${isObj(cmd.errorhandler) && bool(cmd.errorhandler.keepgoingOnSuccess) ? ' (keepgoingOnSuccess is not converted)' : ''}`,
        );
      }
    }
  });
  if (keepgoing)
    report(
      'changed',
      at(seq, 'keepgoing'),
      `${jp}.sequence.keepgoing`,
      'keepgoing: steps get continueOnError, so the run goes on past a failed step (and, unlike Rundeck, does not fail at the end)',
    );
  def.steps = steps;
  if (onError.length) def.onError = onError;

  // Run-level settings.
  if (job.timeout !== undefined) {
    const d = rundeckDuration(str(job.timeout) ?? '');
    if (d) def.timeout = d;
    else
      report(
        'skipped',
        at(job, 'timeout'),
        `${jp}.timeout`,
        `timeout "${str(job.timeout) ?? ''}" not converted (an option reference or an unknown format)`,
      );
  }
  if (job.loglimit !== undefined) {
    const v = (str(job.loglimit) ?? '').trim();
    const action = (str(job.loglimitAction) ?? 'halt').toLowerCase();
    const limit: Obj = {};
    let m: RegExpExecArray | null;
    if (/^\d+$/.test(v)) limit.lines = Number(v);
    else if ((m = /^(\d+)\s*(GB|MB|KB|B)$/i.exec(v))) limit.bytes = `${m[1]}${m[2].toLowerCase()}`;
    if (Object.keys(limit).length) {
      limit.action = action === 'truncate' ? 'truncate' : 'fail';
      def.logLimit = limit;
      if (action !== 'truncate' && action !== 'halt')
        report(
          'changed',
          at(job, 'loglimitAction'),
          `${jp}.loglimitAction`,
          `log limit action ${action} becomes fail`,
        );
      if (str(job.loglimitStatus) && str(job.loglimitStatus) !== 'failed')
        report(
          'changed',
          at(job, 'loglimitStatus'),
          `${jp}.loglimitStatus`,
          `the run ends failed, not ${str(job.loglimitStatus)}`,
        );
    } else
      report(
        'skipped',
        at(job, 'loglimit'),
        `${jp}.loglimit`,
        `log limit "${v}" not converted (a per-node limit has no Firebreak equivalent)`,
      );
  }
  if (bool(job.multipleExecutions) !== true) def.concurrency = { policy: 'reject' };
  if (bool(job.executionEnabled) === false)
    report(
      'skipped',
      at(job, 'executionEnabled'),
      `${jp}.executionEnabled`,
      'execution disabled: disable the runbook after the import (POST /runbooks/NAME/disable)',
    );
  if (str(job.loglevel) && !['INFO', 'NORMAL'].includes(str(job.loglevel)!.toUpperCase()))
    report(
      'skipped',
      at(job, 'loglevel'),
      `${jp}.loglevel`,
      `log level ${str(job.loglevel)} has no Firebreak equivalent`,
    );
  if (job.nodesSelectedByDefault !== undefined && bool(job.nodesSelectedByDefault) === false)
    report(
      'skipped',
      at(job, 'nodesSelectedByDefault'),
      `${jp}.nodesSelectedByDefault`,
      'nodes not selected by default: Firebreak runs on the matched nodes unless the run names some',
    );
  if (
    isObj(job.plugins) &&
    Object.values(job.plugins).some((v) => isObj(v) && Object.keys(v).length)
  )
    report(
      'skipped',
      at(job, 'plugins'),
      `${jp}.plugins`,
      `job plugins (${Object.keys(job.plugins).join(', ')}) not converted`,
    );
  if (job.schedule !== undefined) {
    const s = quartzToCron(job.schedule);
    if ('error' in s)
      report(
        'skipped',
        at(job, 'schedule'),
        `${jp}.schedule`,
        `schedule not converted: ${s.error}`,
      );
    else {
      const zone = str(job.timeZone);
      const sched: Obj = { name: 'rundeck', cron: s.cron };
      if (zone) {
        if (zoneProblem(zone))
          report(
            'skipped',
            at(job, 'timeZone'),
            `${jp}.timeZone`,
            `time zone ${zone} is not an IANA zone; the schedule is read in UTC`,
          );
        else sched.timezone = zone;
      }
      if (bool(job.scheduleEnabled) === false) sched.enabled = false;
      const problem = cronProblem(s.cron, sched.timezone as string | undefined);
      if (problem)
        report(
          'skipped',
          at(job, 'schedule'),
          `${jp}.schedule`,
          `schedule not converted: ${problem}`,
        );
      else {
        def.schedules = [sched];
        report(
          s.changed ? 'changed' : 'converted',
          at(job, 'schedule'),
          `${jp}.schedule`,
          `schedule → cron "${s.cron}"${s.changed ? `: ${s.changed}` : ''}`,
        );
      }
    }
  }
  if (isObj(job.notification)) {
    for (const [trigger, n] of Object.entries(job.notification)) {
      const kinds = isObj(n) ? Object.keys(n).join(', ') : 'plugin';
      report(
        'skipped',
        at(job.notification, trigger, at(job, 'notification')),
        `${jp}.notification.${trigger}`,
        `notification ${trigger} (${kinds}) not converted: use an onError step or the Slack integration`,
      );
    }
  }
  for (const key of Object.keys(job))
    if (key.startsWith('context.'))
      report('skipped', at(job, key), `${jp}.${key}`, `<context><${key.slice(8)}> not converted`);
  return { def, steps: metas, onError: onErrorMeta, subject };
}

function convertRetry(
  v: unknown,
  skip: (m: string) => void,
): { attempts: number; delay?: string } | null {
  if (v === undefined || v === null || v === '') return null;
  const count = isObj(v) ? str(v.retry) : str(v);
  const delay = isObj(v) ? str(v.delay) : undefined;
  if (!count || !/^\d+$/.test(count.trim())) {
    skip(`retry "${count ?? ''}" not converted (an option reference or not a number)`);
    return null;
  }
  const n = Number(count);
  if (n === 0) return null;
  const out: { attempts: number; delay?: string } = { attempts: Math.min(100, n + 1) };
  if (delay) {
    const d = rundeckDuration(delay);
    if (d) out.delay = d;
    else skip(`retry delay "${delay}" not converted`);
  }
  return out;
}

function scriptInterpreter(
  body: string,
  declared: string | undefined,
): { path: string; changed?: string } | { error: string } {
  if (declared?.trim()) {
    const words = declared.trim().split(/\s+/);
    if (words.length > 1)
      return {
        error: `script interpreter "${declared}" takes arguments, which Firebreak's interpreter does not`,
      };
    const w = words[0];
    if (/^\/[\w./-]+$/.test(w)) return { path: w };
    if (/^(sh|bash|dash|ksh|zsh)$/.test(w))
      return { path: `/bin/${w}`, changed: `interpreter ${w} → /bin/${w}` };
    if (/^[\w.-]+$/.test(w))
      return { path: `/usr/bin/${w}`, changed: `interpreter ${w} → /usr/bin/${w}` };
    return { error: `script interpreter "${declared}" not converted` };
  }
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(body);
  if (!shebang) return { path: '/bin/sh' };
  if (shebang[1] === '/usr/bin/env' && shebang[2]) {
    const w = shebang[2];
    return /^(sh|bash|dash|ksh|zsh)$/.test(w)
      ? { path: `/bin/${w}`, changed: `#!/usr/bin/env ${w} → interpreter /bin/${w}` }
      : { path: `/usr/bin/${w}`, changed: `#!/usr/bin/env ${w} → interpreter /usr/bin/${w}` };
  }
  if (!/^\/[\w./-]+$/.test(shebang[1]))
    return { error: `script interpreter line ${shebang[0]} not converted` };
  return { path: shebang[1] };
}
