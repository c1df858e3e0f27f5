/** What a secure value becomes wherever it would have appeared. */
export const MASK = '****';

/** Lines of a multi-line secret shorter than this are not masked on their own (`}` or `--`). */
const MIN_PART = 4;

/**
 * Masks secure values in any string that leaves the runner: log lines, step errors, the
 * execution's error. Not only the value as given, but the forms a command or an HTTP response
 * commonly turns it into: base64 (padded, unpadded, URL-safe), percent-encoding (as
 * `encodeURIComponent` and as form encoding), a JSON string's escaping, and each line of a
 * multi-line value (a key or certificate printed line by line). Longest forms first, so a form
 * that contains another is masked whole.
 */
export class SecretMask {
  private readonly forms: string[];

  constructor(secrets: readonly string[]) {
    const forms = new Set<string>();
    for (const s of secrets) {
      if (!s) continue;
      const b64 = Buffer.from(s, 'utf8').toString('base64');
      for (const f of [
        s,
        b64,
        b64.replace(/=+$/, ''),
        Buffer.from(s, 'utf8').toString('base64url'),
        encodeURIComponent(s),
        encodeURIComponent(s).replace(/%20/g, '+'),
        JSON.stringify(s).slice(1, -1),
      ])
        if (f) forms.add(f);
      if (/[\r\n]/.test(s))
        for (const part of s.split(/\r?\n/)) if (part.trim().length >= MIN_PART) forms.add(part);
    }
    this.forms = [...forms].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.forms.length === 0;
  }

  /** The longest masked form in UTF-8 bytes (0 when there is nothing to mask). */
  get longestBytes(): number {
    return this.forms.length ? Buffer.byteLength(this.forms[0], 'utf8') : 0;
  }

  mask(text: string): string;
  mask(text: string | null): string | null;
  mask(text: string | null): string | null {
    if (text === null || this.forms.length === 0) return text;
    let out = text;
    for (const f of this.forms) if (out.includes(f)) out = out.split(f).join(MASK);
    return out;
  }
}
