import { shellQuote } from '../../runbooks/template.js';
import { ShellWriter } from '../shell-refs.js';

/**
 * Rundeck references in a command or script → Firebreak templates, so the converted command is
 * quoted exactly as a hand-written one.
 *
 * Rundeck expands `${option.x}` and `@option.x@` as text before the shell reads the command, so
 * a value lands inside whatever quotes surround the reference (and a value `$(…)` inside double
 * quotes runs). The shell expands `$RD_OPTION_X` itself (not inside single quotes). Firebreak
 * quotes every value as one word and refuses a template inside quotes, so a reference inside a
 * quoted string closes the quotes, takes the template and reopens them (ShellWriter, shared with
 * the StackStorm import): `echo "deploying ${option.version} now"` →
 * `echo "deploying "{{ options.version }}" now"`: for plain values the shell sees the same word;
 * a hostile value stays one literal argument.
 */

/** What a Rundeck reference becomes: a template path, literal text, or why it cannot. */
export type Resolution = { ref: string } | { literal: string } | { error: string };

export type Resolve = (context: string, name: string, form: 'text' | 'env') => Resolution;

export interface ShellConversion {
  text: string;
  /** References that could not be converted, each with why. */
  errors: string[];
  /** Templates produced (for the report). */
  refs: string[];
}

const CONTEXTS = 'option|node|job|globals|data|secureOption|unquotedoption|execution|export';
const DOLLAR_REF = new RegExp(`^\\$\\{(${CONTEXTS})\\.([^}\\s]+)\\}`);
const AT_REF = new RegExp(`^@(${CONTEXTS})\\.([A-Za-z0-9_.:-]+)@`);
const ENV_REF = /^\$(\{)?RD_([A-Z]+)_([A-Z0-9_]+)(\})?/;

export function convertShell(input: string, resolve: Resolve): ShellConversion {
  const errors: string[] = [];
  const refs: string[] = [];
  const w = new ShellWriter();
  let comment = false;
  let heredoc: string | null = null;
  let pendingHeredoc: string | null = null;
  let lineStart = true;

  const emit = (r: Resolution, source: string, i: number, len: number): number => {
    if ('error' in r) {
      errors.push(`${source}: ${r.error}`);
      w.raw(source);
      return i + len;
    }
    if ('literal' in r) {
      // Rundeck pastes the text into the quotes it stands in: so does the import, escaped.
      w.raw(
        w.quote === null
          ? shellQuote(r.literal)
          : w.quote === "'"
            ? r.literal.replace(/'/g, `'\\''`)
            : r.literal.replace(/(["\\$`])/g, '\\$1'),
      );
      return i + len;
    }
    refs.push(r.ref);
    return i + len + w.word(`{{ ${r.ref} }}`, input[i + len]);
  };

  for (let i = 0; i < input.length;) {
    const ch = input[i];
    const rest = input.slice(i, i + 200);
    if (heredoc !== null) {
      const eol = input.indexOf('\n', i);
      const line = input.slice(i, eol === -1 ? input.length : eol);
      if (line.replace(/^\t+/, '') === heredoc) heredoc = null;
      else {
        // A reference in the body is reported (and left as it was).
        const m =
          /\$\{(option|node|job)\.[^}\s]+\}|@(option|node|job)\.[A-Za-z0-9_.:-]+@|\$\{?RD_[A-Z0-9_]+\}?/.exec(
            line,
          );
        if (m)
          errors.push(
            `${m[0]} is in a here-document, where Firebreak cannot quote a value: pass it as an argument instead`,
          );
      }
      w.raw(line + (eol === -1 ? '' : '\n'));
      i = eol === -1 ? input.length : eol + 1;
      lineStart = true;
      continue;
    }
    if (ch === '\n') {
      w.raw(ch);
      i++;
      comment = false;
      lineStart = true;
      if (pendingHeredoc !== null && w.quote === null) {
        heredoc = pendingHeredoc;
        pendingHeredoc = null;
      }
      continue;
    }
    if (comment) {
      w.raw(ch);
      i++;
      continue;
    }
    // Rundeck's own references: expanded as text, in any quotes.
    const m = DOLLAR_REF.exec(rest) ?? AT_REF.exec(rest);
    if (m) {
      i = emit(resolve(m[1], m[2], 'text'), m[0], i, m[0].length);
      lineStart = false;
      continue;
    }
    if (w.quote !== "'" && ch === '$') {
      const e = ENV_REF.exec(rest);
      if (e && Boolean(e[1]) === Boolean(e[4])) {
        i = emit(resolve(e[2].toLowerCase(), e[3], 'env'), e[0], i, e[0].length);
        lineStart = false;
        continue;
      }
    }
    if (w.quote !== "'" && ch === '\\') {
      w.raw(input.slice(i, i + 2));
      i += 2;
      continue;
    }
    if (w.quote === null && ch === '#' && (lineStart || /\s/.test(input[i - 1] ?? ' '))) {
      comment = true;
      w.raw(ch);
      i++;
      continue;
    }
    if (w.quote === null && input.startsWith('<<', i) && input[i + 2] !== '<') {
      const h = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(rest);
      if (h) {
        pendingHeredoc = h[3];
        w.raw(h[0]);
        i += h[0].length;
        continue;
      }
    }
    w.char(ch);
    i++;
    if (!/\s/.test(ch)) lineStart = false;
  }
  return { text: w.text, errors, refs };
}
