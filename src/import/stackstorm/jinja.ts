import { shellQuote } from '../../runbooks/template.js';
import { ShellWriter } from '../shell-refs.js';

/**
 * StackStorm's Jinja in a shell command (`cmd`, script arguments) turned into Firebreak
 * templating. Only a bare parameter reference (`{{ name }}`) maps: it becomes
 * `{{ options.NAME }}`, or the quoted literal of a fixed (immutable) value. Firebreak quotes each
 * value as one shell word, so a reference StackStorm pasted inside quotes (`echo "{{ msg }}"`) is
 * moved out of them (`echo {{ options.msg }}`, `"a "{{ options.b }}" c"`: ShellWriter, shared with
 * the Rundeck import): the text around it stays quoted, the value is one word either way. Everything else (`{% %}` blocks, filters, `st2kv.…` datastore values,
 * attribute access, comments) does not map and is returned as unconverted.
 */

export type ParamValue = { option: string } | { fixed: string };

export interface Translated {
  text: string;
  /** Parameters the text refers to (StackStorm names). */
  refs: string[];
  /** Jinja that has no Firebreak form: the source text of each piece. */
  unconverted: Array<{ source: string; why: string }>;
  /** Whether a reference was moved out of shell quotes. */
  unquoted: boolean;
}

const BARE_REF = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/;

function why(expr: string): string {
  if (/^\s*st2kv\./.test(expr))
    return 'a datastore value (st2kv): use a secure option or a credential';
  if (/^\s*config_context\./.test(expr)) return 'a pack config value (config_context)';
  if (expr.includes('|')) return 'a Jinja filter';
  return 'a Jinja expression, not a parameter reference';
}

/** True when the text holds Jinja of any kind. */
export function hasJinja(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text);
}

export function translateShell(
  text: string,
  lookup: (param: string) => ParamValue | undefined,
): Translated {
  const w = new ShellWriter();
  const refs: string[] = [];
  const unconverted: Translated['unconverted'] = [];
  for (let i = 0; i < text.length; i++) {
    const two = text.slice(i, i + 2);
    if (two === '{{' || two === '{%' || two === '{#') {
      const closer = two === '{{' ? '}}' : two === '{%' ? '%}' : '#}';
      const end = text.indexOf(closer, i + 2);
      const source = text.slice(i, end === -1 ? text.length : end + 2);
      i = end === -1 ? text.length : end + 1;
      if (two !== '{{' || end === -1) {
        unconverted.push({
          source,
          why: two === '{%' ? 'a Jinja block' : two === '{#' ? 'a Jinja comment' : 'unclosed {{',
        });
        continue;
      }
      const expr = source.slice(2, -2);
      const m = BARE_REF.exec(expr);
      const value = m ? lookup(m[1]) : undefined;
      if (!m || !value) {
        unconverted.push({
          source,
          why: m ? `no parameter named "${m[1]}"` : why(expr),
        });
        continue;
      }
      refs.push(m[1]);
      const word = 'option' in value ? `{{ options.${value.option} }}` : shellQuote(value.fixed);
      i += w.word(word, text[i + 1]);
      continue;
    }
    const ch = text[i];
    if (w.quote !== "'" && ch === '\\' && i + 1 < text.length) {
      w.raw(ch + text[i + 1]);
      i++;
      continue;
    }
    w.char(ch);
  }
  return { text: w.text, refs, unconverted, unquoted: w.unquoted };
}
