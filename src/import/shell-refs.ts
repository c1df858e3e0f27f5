/**
 * What every importer does with another tool's names and shell commands (Rundeck, StackStorm):
 *
 * - `slugify`: free text ("Restart Web Servers", `linux.rm`, `reqOpt1`) → a Firebreak name, lower
 *   case letters and digits joined by `-` (runbooks, steps) or `_` (options).
 * - `ShellWriter`: the converted command, written as the source is scanned. The other tool pasted
 *   a value into the command as text, inside whatever quotes surround the reference; Firebreak
 *   quotes every value as one word and refuses a template inside quotes. So a reference inside a
 *   quoted string closes the quotes, takes the word and reopens them:
 *   `echo "deploying ${option.version} now"` → `echo "deploying "{{ options.version }}" now"`,
 *   and a reference that fills its quotes (`"{{ msg }}"`) loses them. For plain values the shell
 *   sees the same word; a hostile value stays one literal argument.
 */

function ascii(s: string): string {
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
}

/**
 * `text` as lower-case letters and digits, each run of anything else one `sep`, none at either
 * end, at most `max` characters; `camel` splits `reqOpt` into `req`, `opt` first. May be empty.
 */
export function slugify(
  text: string,
  { sep = '-', max = 63, camel = false }: { sep?: '-' | '_'; max?: number; camel?: boolean } = {},
): string {
  let s = ascii(text);
  if (camel) s = s.replace(/([a-z0-9])([A-Z])/g, `$1${sep}$2`);
  const edge = new RegExp(`^\\${sep}+|\\${sep}+$`, 'g');
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, sep)
    .replace(edge, '')
    .slice(0, max)
    .replace(edge, '');
}

export type Quote = '"' | "'";

/** The converted text of a shell command, with the quoting state of the source at the end of it. */
export class ShellWriter {
  text = '';
  /** The quotes the source is in at this point, if any. */
  quote: Quote | null = null;
  /** Whether a word was moved out of quotes. */
  unquoted = false;
  /** Index in `text` of the quote character that opened the current quoted string. */
  private openAt = -1;

  /** Copies source text that neither opens nor closes quotes (an escape, a comment, a line). */
  raw(s: string): void {
    this.text += s;
  }

  /** Copies one source character, following the quotes it opens or closes. */
  char(ch: string): void {
    if (this.quote === null && (ch === '"' || ch === "'")) {
      this.quote = ch;
      this.openAt = this.text.length;
    } else if (this.quote === ch) this.quote = null;
    this.text += ch;
  }

  /**
   * Puts one whole shell word (a template, or a value already quoted) where the source had a
   * reference. Inside quotes, the quotes are closed before it and opened again after it, unless
   * it is at their start (the opening quote is dropped) or `next`, the source character after
   * the reference, closes them; then returns 1: that quote is consumed. Otherwise returns 0.
   */
  word(word: string, next: string | undefined): number {
    const q = this.quote;
    if (q === null) {
      this.text += word;
      return 0;
    }
    this.unquoted = true;
    if (this.text.length === this.openAt + 1) this.text = this.text.slice(0, this.openAt);
    else this.text += q;
    this.text += word;
    if (next === q) {
      this.quote = null;
      return 1;
    }
    this.text += q;
    this.openAt = this.text.length - 1;
    return 0;
  }
}
