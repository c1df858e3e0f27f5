import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { SaxesParser } from 'saxes';

/**
 * A Rundeck job file read into plain data with the line of every value: YAML through the `yaml`
 * package's node ranges and a LineCounter (as the runbook parser does), XML through `saxes`
 * (a maintained, strict, dependency-free SAX parser that reports the line of each tag and of
 * each error; fast-xml-parser reports no positions). Both come out in the YAML export's shape,
 * so one converter reads them.
 */

/** Lines of values: `lines.get(container)?.[key]` is where `container[key]` starts. */
export type Lines = WeakMap<object, Record<string | number, number>>;

export interface LoadedJobs {
  /** The job list as the YAML export has it (XML translated to the same keys). */
  data: unknown;
  lines: Lines;
  /** Where the document starts (for findings about the document itself). */
  firstLine: number;
}

export type LoadResult =
  { ok: true; jobs: LoadedJobs } | { ok: false; line: number; message: string };

export const MAX_IMPORT_BYTES = 4 * 1024 * 1024;

export function lineOf(lines: Lines, container: unknown, key: string | number): number | undefined {
  return container && typeof container === 'object' ? lines.get(container)?.[key] : undefined;
}

function setLine(lines: Lines, container: object, key: string | number, line: number) {
  const m = lines.get(container) ?? {};
  m[key] = line;
  lines.set(container, m);
}

export function loadRundeckYaml(text: string): LoadResult {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    const err = doc.errors[0];
    return {
      ok: false,
      line: err.linePos?.[0].line ?? counter.linePos(err.pos[0]).line,
      message: `YAML: ${err.message.split('\n')[0]}`,
    };
  }
  const lines: Lines = new WeakMap();
  const lineAt = (n: Node | null | undefined) => (n?.range ? counter.linePos(n.range[0]).line : 1);
  let aliases = 0;
  const walk = (node: unknown): unknown => {
    if (isAlias(node)) {
      if (++aliases > 50) throw new Error('too many YAML aliases');
      return walk(node.resolve(doc));
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        out[key] = walk(pair.value);
        setLine(lines, out, key, lineAt((pair.value as Node | null) ?? (pair.key as Node)));
      }
      return out;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      node.items.forEach((item, i) => {
        out.push(walk(item));
        setLine(lines, out, i, lineAt(item as Node));
      });
      return out;
    }
    if (isScalar(node)) return node.value;
    return null;
  };
  try {
    const data = walk(doc.contents);
    return { ok: true, jobs: { data, lines, firstLine: lineAt(doc.contents) } };
  } catch (e) {
    return { ok: false, line: 1, message: `YAML: ${(e as Error).message}` };
  }
}

/** An XML element with the line of its start tag. */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
  line: number;
}

export function parseXml(
  text: string,
): { ok: true; root: XmlElement } | { ok: false; line: number; message: string } {
  const parser = new SaxesParser({ position: true, xmlns: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: { line: number; message: string } | undefined;
  let tagLine = 1;
  parser.on('opentagstart', () => {
    tagLine = parser.line;
  });
  parser.on('opentag', (tag) => {
    const el: XmlElement = {
      name: tag.name,
      attributes: { ...(tag.attributes as Record<string, string>) },
      children: [],
      text: '',
      line: tagLine,
    };
    if (stack.length) stack[stack.length - 1].children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (t: string) => {
    if (stack.length) stack[stack.length - 1].text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('doctype', () => {
    failure ??= { line: parser.line, message: 'XML: a DOCTYPE is not accepted in a job file' };
  });
  parser.on('error', (err) => {
    failure ??= {
      line: parser.line,
      message: `XML: ${err.message.replace(/^[^:]*:\d+:\d+: /, '')}`,
    };
  });
  try {
    parser.write(text).close();
  } catch (e) {
    failure ??= { line: parser.line, message: `XML: ${(e as Error).message}` };
  }
  if (failure) return { ok: false, ...failure };
  if (!root) return { ok: false, line: 1, message: 'XML: no root element' };
  return { ok: true, root };
}

/**
 * The XML job format (job-v20) in the YAML export's shape: `<context><options><option …>` →
 * `options`, `<sequence><command>` → `sequence.commands`, `<dispatch>` → `nodefilters.dispatch`,
 * `<logging limit limitAction>` → `loglimit`/`loglimitAction`, attributes as keys. An element the
 * translation does not know is kept under its own name, so the converter reports it.
 */
export function loadRundeckXml(text: string): LoadResult {
  const parsed = parseXml(text);
  if (!parsed.ok) return parsed;
  const { root } = parsed;
  if (root.name !== 'joblist')
    return {
      ok: false,
      line: root.line,
      message: `expected a <joblist> root element, found <${root.name}>`,
    };
  const lines: Lines = new WeakMap();
  const jobs: unknown[] = [];
  for (const el of root.children) {
    if (el.name !== 'job') {
      // Kept so the converter reports it as an unexpected entry.
      const odd = { [`<${el.name}>`]: true };
      setLine(lines, odd, `<${el.name}>`, el.line);
      setLine(lines, jobs, jobs.length, el.line);
      jobs.push(odd);
      continue;
    }
    setLine(lines, jobs, jobs.length, el.line);
    jobs.push(xmlJob(el, lines));
  }
  return { ok: true, jobs: { data: jobs, lines, firstLine: root.line } };
}

const text = (el: XmlElement) => el.text.trim();
const rawText = (el: XmlElement) => el.text;

function put(
  lines: Lines,
  obj: Record<string, unknown>,
  key: string,
  value: unknown,
  line: number,
) {
  obj[key] = value;
  setLine(lines, obj, key, line);
}

/** Attributes and children of a plain element as a map (text-only children as strings). */
function plainMap(el: XmlElement, lines: Lines): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(el.attributes)) put(lines, out, k, v, el.line);
  for (const c of el.children)
    put(lines, out, c.name, c.children.length ? plainMap(c, lines) : text(c), c.line);
  return out;
}

function xmlJob(el: XmlElement, lines: Lines): Record<string, unknown> {
  const job: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(el.attributes)) put(lines, job, k, v, el.line);
  for (const c of el.children) {
    switch (c.name) {
      case 'context': {
        for (const cc of c.children) {
          if (cc.name === 'project') put(lines, job, 'project', text(cc), cc.line);
          else if (cc.name === 'options') {
            const options: unknown[] = [];
            for (const o of cc.children) {
              setLine(lines, options, options.length, o.line);
              options.push(xmlOption(o, lines));
            }
            put(lines, job, 'options', options, cc.line);
          } else put(lines, job, `context.${cc.name}`, text(cc), cc.line);
        }
        break;
      }
      case 'sequence':
        put(lines, job, 'sequence', xmlSequence(c, lines), c.line);
        break;
      case 'dispatch': {
        const nf = (job.nodefilters as Record<string, unknown> | undefined) ?? {};
        if (!job.nodefilters) put(lines, job, 'nodefilters', nf, c.line);
        put(lines, nf, 'dispatch', plainMap(c, lines), c.line);
        break;
      }
      case 'nodefilters': {
        const nf = (job.nodefilters as Record<string, unknown> | undefined) ?? {};
        put(lines, job, 'nodefilters', nf, c.line);
        for (const [k, v] of Object.entries(c.attributes))
          put(lines, nf, k === 'excludeprecedence' ? 'excludePrecedence' : k, v, c.line);
        for (const cc of c.children) {
          if (cc.name === 'filter') put(lines, nf, 'filter', text(cc), cc.line);
          else put(lines, nf, cc.name, plainMap(cc, lines), cc.line);
        }
        break;
      }
      case 'logging':
        if (c.attributes.limit !== undefined)
          put(lines, job, 'loglimit', c.attributes.limit, c.line);
        if (c.attributes.limitAction !== undefined)
          put(lines, job, 'loglimitAction', c.attributes.limitAction, c.line);
        if (c.attributes.status !== undefined)
          put(lines, job, 'loglimitStatus', c.attributes.status, c.line);
        break;
      case 'retry':
        put(
          lines,
          job,
          'retry',
          c.attributes.delay !== undefined
            ? { retry: text(c), delay: c.attributes.delay }
            : text(c),
          c.line,
        );
        break;
      case 'schedule': {
        const s: Record<string, unknown> = {};
        if (c.attributes.crontab !== undefined)
          put(lines, s, 'crontab', c.attributes.crontab, c.line);
        for (const cc of c.children) {
          if (cc.name === 'time') put(lines, s, 'time', { ...cc.attributes }, cc.line);
          else if (cc.name === 'weekday') put(lines, s, 'weekday', { ...cc.attributes }, cc.line);
          else if (cc.name === 'month') {
            if (cc.attributes.month !== undefined)
              put(lines, s, 'month', cc.attributes.month, cc.line);
            if (cc.attributes.day !== undefined)
              put(lines, s, 'dayofmonth', { day: cc.attributes.day }, cc.line);
          } else if (cc.name === 'year') put(lines, s, 'year', cc.attributes.year ?? '*', cc.line);
          else if (cc.name === 'dayofmonth')
            put(lines, s, 'dayofmonth', { ...cc.attributes }, cc.line);
          else put(lines, s, cc.name, plainMap(cc, lines), cc.line);
        }
        put(lines, job, 'schedule', s, c.line);
        break;
      }
      case 'notification':
        put(lines, job, 'notification', plainMap(c, lines), c.line);
        break;
      case 'description':
        put(lines, job, 'description', rawText(c).trim(), c.line);
        break;
      default:
        put(lines, job, c.name, c.children.length ? plainMap(c, lines) : text(c), c.line);
    }
  }
  return job;
}

function xmlOption(el: XmlElement, lines: Lines): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (el.name !== 'option') put(lines, o, `<${el.name}>`, true, el.line);
  for (const [k, v] of Object.entries(el.attributes)) {
    if (k === 'enforcedvalues') put(lines, o, 'enforced', v, el.line);
    else if (k === 'values') put(lines, o, 'values', v, el.line);
    else put(lines, o, k, v, el.line);
  }
  for (const c of el.children) {
    if (c.name === 'description') put(lines, o, 'description', rawText(c).trim(), c.line);
    else if (c.name === 'values') put(lines, o, 'values', text(c), c.line);
    else put(lines, o, c.name, text(c), c.line);
  }
  return o;
}

function xmlSequence(el: XmlElement, lines: Lines): Record<string, unknown> {
  const seq: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(el.attributes)) put(lines, seq, k, v, el.line);
  const commands: unknown[] = [];
  for (const c of el.children) {
    if (c.name !== 'command') {
      put(lines, seq, c.name, plainMap(c, lines), c.line);
      continue;
    }
    setLine(lines, commands, commands.length, c.line);
    commands.push(xmlCommand(c, lines));
  }
  put(lines, seq, 'commands', commands, el.line);
  return seq;
}

function xmlCommand(el: XmlElement, lines: Lines): Record<string, unknown> {
  const cmd: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(el.attributes)) put(lines, cmd, k, v, el.line);
  for (const c of el.children) {
    switch (c.name) {
      case 'exec':
      case 'scriptfile':
      case 'scripturl':
        put(lines, cmd, c.name, text(c), c.line);
        break;
      case 'script':
        put(lines, cmd, 'script', rawText(c), c.line);
        break;
      case 'scriptargs':
        put(lines, cmd, 'args', text(c), c.line);
        break;
      case 'scriptinterpreter':
        put(lines, cmd, 'scriptInterpreter', text(c), c.line);
        if (c.attributes.argsquoted !== undefined)
          put(lines, cmd, 'interpreterArgsQuoted', c.attributes.argsquoted, c.line);
        break;
      case 'description':
        put(lines, cmd, 'description', text(c), c.line);
        break;
      case 'errorhandler':
        put(lines, cmd, 'errorhandler', xmlCommand(c, lines), c.line);
        break;
      case 'jobref': {
        const ref: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(c.attributes)) put(lines, ref, k, v, c.line);
        for (const cc of c.children) {
          if (cc.name === 'arg') put(lines, ref, 'args', cc.attributes.line ?? '', cc.line);
          else if (cc.name === 'nodefilters' || cc.name === 'dispatch')
            put(lines, ref, cc.name, plainMap(cc, lines), cc.line);
          else
            put(lines, ref, cc.name, cc.children.length ? plainMap(cc, lines) : text(cc), cc.line);
        }
        put(lines, cmd, 'jobref', ref, c.line);
        break;
      }
      case 'node-step-plugin':
      case 'step-plugin': {
        put(lines, cmd, 'type', c.attributes.type ?? '', c.line);
        put(lines, cmd, 'nodeStep', c.name === 'node-step-plugin', c.line);
        const conf: Record<string, unknown> = {};
        for (const cc of c.children)
          if (cc.name === 'configuration')
            for (const e of cc.children)
              put(lines, conf, e.attributes.key ?? e.name, e.attributes.value ?? text(e), e.line);
        put(lines, cmd, 'configuration', conf, c.line);
        break;
      }
      default:
        put(lines, cmd, c.name, c.children.length ? plainMap(c, lines) : text(c), c.line);
    }
  }
  return cmd;
}
