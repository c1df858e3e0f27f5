/**
 * `{{ path }}` templates, without code evaluation: a template is literal text and references to
 * values by path (`options.service`, `node.attributes.region`, `steps.current.captures.version`,
 * `alert.labels.instance`, `incident.id`). Nothing a user or an alert supplies is ever evaluated.
 *
 * In shell commands every referenced value is quoted as exactly one word (a list: one word per
 * item), by construction: the renderer, not the runbook author, decides the quoting.
 */

export type Segment = { literal: string } | { path: string[]; source: string; offset: number };

export class TemplateError extends Error {
  constructor(
    message: string,
    /** Offset in the template string. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function parseTemplate(text: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open === -1) {
      out.push({ literal: text.slice(i) });
      break;
    }
    if (open > i) out.push({ literal: text.slice(i, open) });
    const close = text.indexOf('}}', open + 2);
    if (close === -1) throw new TemplateError('unclosed {{ (expected }})', open);
    const source = text.slice(open + 2, close).trim();
    const path = source.split('.');
    if (!source || !path.every((p) => SEGMENT.test(p))) {
      throw new TemplateError(
        `{{ ${source} }} is not a value reference: templates hold a path such as options.name, never code`,
        open,
      );
    }
    out.push({ path, source, offset: open });
    i = close + 2;
  }
  return out;
}

/** Names that a template may reference, and where they come from. */
export interface TemplateScope {
  options: ReadonlySet<string>;
  /** Steps before this one, with the captures each declares. */
  steps: ReadonlyMap<string, ReadonlySet<string>>;
  /** Whether this template runs per node (node.* allowed). */
  node: boolean;
  /** Whether alert.* is available (trigger templates). */
  alert: boolean;
  /** Earlier `approval` steps with `choices`: `steps.STEP.choice` is what the approver picked. */
  choices?: ReadonlySet<string>;
}

/** Why a path cannot be resolved in a scope, or null when it can. */
export function checkPath(path: string[], scope: TemplateScope): string | null {
  const [root, a, b, c] = path;
  const src = path.join('.');
  switch (root) {
    case 'options':
      if (path.length !== 2) return `${src}: expected options.NAME`;
      return scope.options.has(a) ? null : `${src}: no option named ${JSON.stringify(a)}`;
    case 'node':
      if (!scope.node) return `${src}: node.* is only available in steps that run on target nodes`;
      if (path.length === 2 && ['name', 'hostname', 'port', 'user'].includes(a)) return null;
      if (path.length === 3 && a === 'attributes') return null;
      return `${src}: expected node.name, node.hostname, node.port, node.user or node.attributes.NAME`;
    case 'steps': {
      if (path.length === 3 && b === 'choice') {
        return scope.choices?.has(a)
          ? null
          : `${src}: no earlier approval step named ${JSON.stringify(a)} with choices`;
      }
      if (path.length !== 4 || b !== 'captures')
        return `${src}: expected steps.STEP.captures.NAME or steps.STEP.choice`;
      const captures = scope.steps.get(a);
      if (!captures) return `${src}: no earlier step named ${JSON.stringify(a)}`;
      return captures.has(c)
        ? null
        : `${src}: step ${JSON.stringify(a)} captures no ${JSON.stringify(c)}`;
    }
    case 'alert':
      if (!scope.alert) return `${src}: alert.* is only available in triggers`;
      return path.length === 3 && (a === 'labels' || a === 'annotations')
        ? null
        : `${src}: expected alert.labels.NAME or alert.annotations.NAME`;
    case 'incident':
      return path.length === 2 && ['id', 'title', 'severity'].includes(a)
        ? null
        : `${src}: expected incident.id, incident.title or incident.severity`;
    case 'execution':
      return path.length === 2 && ['id', 'actor'].includes(a)
        ? null
        : `${src}: expected execution.id or execution.actor`;
    default:
      return `${src}: unknown root ${JSON.stringify(root)} (expected options, node, steps, alert, incident or execution)`;
  }
}

/** Values available when rendering. */
export interface TemplateValues {
  options?: Record<string, unknown>;
  node?: {
    name: string;
    hostname: string;
    port: number;
    user: string;
    attributes: Record<string, string>;
  };
  steps?: Record<string, { captures: Record<string, string>; choice?: string }>;
  alert?: { labels: Record<string, string>; annotations: Record<string, string> };
  incident?: { id: string; title: string; severity: string };
  execution?: { id: string; actor: string };
  /** Options whose values are secrets: shown as **** in every displayed rendering. */
  secureOptions?: ReadonlySet<string>;
  /** Plan mode: values not known yet (captures of steps that have not run) render as <path>. */
  placeholders?: boolean;
}

export const MASK = '****';

type Resolved = { value: unknown; secret: boolean } | { placeholder: string };

function resolve(path: string[], values: TemplateValues): Resolved {
  let cur: unknown = values;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, p)) {
      cur = undefined;
      break;
    }
    cur = (cur as Record<string, unknown>)[p];
  }
  if (
    cur === undefined &&
    values.placeholders &&
    (path[0] === 'steps' || path[0] === 'alert' || path[0] === 'incident')
  ) {
    return { placeholder: `<${path.join('.')}>` };
  }
  const secret = path[0] === 'options' && Boolean(values.secureOptions?.has(path[1]));
  return { value: cur ?? '', secret };
}

/** POSIX shell single-word quoting. Words made only of safe characters are left as they are. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function asWords(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  return [typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)];
}

export interface Rendered {
  /** What runs. */
  text: string;
  /** What people see: secure values masked. */
  display: string;
}

/**
 * The one rendering loop: literal text stays, each reference becomes `word(value)`; the
 * displayed form masks secure values.
 */
function render(
  template: string,
  values: TemplateValues,
  word: (value: unknown, seg: Extract<Segment, { path: string[] }>) => string,
): Rendered {
  let text = '';
  let display = '';
  for (const seg of parseTemplate(template)) {
    if ('literal' in seg) {
      text += seg.literal;
      display += seg.literal;
      continue;
    }
    const r = resolve(seg.path, values);
    if ('placeholder' in r) {
      text += r.placeholder;
      display += r.placeholder;
      continue;
    }
    const s = word(r.value, seg);
    text += s;
    display += r.secret ? MASK : s;
  }
  return { text, display };
}

/** A shell command: each value becomes one quoted word (a list: one per item). */
export function renderShell(template: string, values: TemplateValues): Rendered {
  return render(template, values, (value) => asWords(value).map(shellQuote).join(' '));
}

/** Plain text (URLs, headers, messages); `encode` escapes each value for its context. */
export function renderText(
  template: string,
  values: TemplateValues,
  encode: (v: string) => string = (v) => v,
): Rendered {
  return render(template, values, (value) => encode(asWords(value).join(',')));
}

/**
 * A structured value (a JSON body, runbook-call options): strings are rendered as text, and a
 * string that is exactly one `{{ ref }}` keeps the value's type (a number stays a number).
 */
export function renderStructured(
  value: unknown,
  values: TemplateValues,
): { value: unknown; display: unknown } {
  if (typeof value === 'string') {
    const segs = parseTemplate(value);
    if (segs.length === 1 && 'path' in segs[0]) {
      const r = resolve(segs[0].path, values);
      if ('placeholder' in r) return { value: r.placeholder, display: r.placeholder };
      return { value: r.value, display: r.secret ? MASK : r.value };
    }
    const t = renderText(value, values);
    return { value: t.text, display: t.display };
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => renderStructured(v, values));
    return { value: items.map((i) => i.value), display: items.map((i) => i.display) };
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(
      ([k, v]) => [k, renderStructured(v, values)] as const,
    );
    return {
      value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
      display: Object.fromEntries(entries.map(([k, v]) => [k, v.display])),
    };
  }
  return { value, display: value };
}

/** Every template reference in a value (strings, arrays, objects), for linting. */
export function templateRefs(value: unknown): Array<{ path: string[]; source: string }> {
  if (typeof value === 'string')
    return parseTemplate(value).filter(
      (s): s is Extract<Segment, { path: string[] }> => 'path' in s,
    );
  if (Array.isArray(value)) return value.flatMap(templateRefs);
  if (value && typeof value === 'object') return Object.values(value).flatMap(templateRefs);
  return [];
}

/** Where a template sits in a shell command that would break Firebreak's quoting of it. */
export type UnsafeShellContext = 'quotes' | 'escape' | 'dollar' | 'comment' | 'heredoc';

/**
 * Templates whose rendered, quoted word would not be one literal argument: inside quotes
 * (`"'a b'"`), after a backslash or `$` (which eat the opening quote), in a `#` comment (a value
 * with a newline ends the comment), or in a here-document body (quotes are literal there). The
 * linter refuses each of them, so every value reaches the shell as exactly one word.
 */
export function unsafeTemplateRefs(
  command: string,
): Array<{ ref: string; context: UnsafeShellContext }> {
  const bad: Array<{ ref: string; context: UnsafeShellContext }> = [];
  let quote: '"' | "'" | null = null;
  let comment = false;
  let heredoc: { delimiter: string; strip: boolean } | null = null;
  let pendingHeredoc: { delimiter: string; strip: boolean } | null = null;
  let lineStart = 0;
  const refEnd = (from: number) => command.indexOf('}}', from);
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (heredoc) {
      // Inside a here-document body: line by line until the delimiter line.
      const eol = command.indexOf('\n', i);
      const line = command.slice(i, eol === -1 ? command.length : eol);
      if ((heredoc.strip ? line.replace(/^\t+/, '') : line) === heredoc.delimiter) heredoc = null;
      else {
        for (let j = line.indexOf('{{'); j !== -1; j = line.indexOf('{{', j + 2)) {
          const close = line.indexOf('}}', j);
          bad.push({
            ref: line.slice(j, close === -1 ? undefined : close + 2),
            context: 'heredoc',
          });
        }
      }
      i = eol === -1 ? command.length : eol;
      lineStart = i + 1;
      continue;
    }
    if (ch === '\n') {
      comment = false;
      if (pendingHeredoc && quote === null) {
        heredoc = pendingHeredoc;
        pendingHeredoc = null;
      }
      lineStart = i + 1;
      continue;
    }
    if (command.startsWith('{{', i)) {
      const close = refEnd(i);
      if (close === -1) break;
      const ref = command.slice(i, close + 2);
      if (comment) bad.push({ ref, context: 'comment' });
      else if (i > 0 && command[i - 1] === '\\') bad.push({ ref: `\\${ref}`, context: 'escape' });
      else if (i > 0 && command[i - 1] === '$') bad.push({ ref: `$${ref}`, context: 'dollar' });
      else if (quote) bad.push({ ref, context: 'quotes' });
      i = close + 1;
      continue;
    }
    if (comment) continue;
    if (quote !== "'" && ch === '\\' && !command.startsWith('{{', i + 1)) {
      i++;
      continue;
    }
    if (quote === null && ch === '#' && (i === lineStart || /\s/.test(command[i - 1]))) {
      comment = true;
      continue;
    }
    if (quote === null && command.startsWith('<<', i) && command[i + 2] !== '<') {
      const m = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(command.slice(i));
      if (m) {
        // A quoted delimiter (<<'EOF') makes the body literal text: templates there are still
        // not quoted words, so every here-document body counts.
        pendingHeredoc = { delimiter: m[3], strip: m[1] === '-' };
        i += m[0].length - 1;
        continue;
      }
    }
    if (quote === null && (ch === '"' || ch === "'")) quote = ch;
    else if (quote === ch) quote = null;
  }
  return bad;
}

/**
 * A URL: a value that starts the URL is the base (it must itself be an http(s) URL); every other
 * value is percent-encoded, so it cannot add path segments, queries or fragments.
 */
export function renderUrl(template: string, values: TemplateValues): Rendered {
  return render(template, values, (value, seg) => {
    const raw = asWords(value).join(',');
    if (seg.offset === 0) {
      if (!/^https?:\/\/[^\s]+$/.test(raw)) {
        throw new TemplateError(`${seg.source} must be an http(s) URL to start a URL`, 0);
      }
      return raw.replace(/\/+$/, '');
    }
    if (raw === '.' || raw === '..') {
      throw new TemplateError(
        `${seg.source} is "${raw}", which would change the URL's path`,
        seg.offset,
      );
    }
    return encodeURIComponent(raw);
  });
}
