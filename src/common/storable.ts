/**
 * Strings Postgres can store. A NUL is refused by `text` and `jsonb` alike, and an unpaired
 * UTF-16 surrogate (JSON `"\ud800"`) by `jsonb` (node-postgres sends it as its `\ud800` escape;
 * in a `text` column it would silently become U+FFFD). Either reached the database as a 500
 * before this check (an incident titled `"a\u0000b"`, an alert label `"\ud800"`).
 */
const SURROGATE = /\p{Cs}/u;

export const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired surrogates';

export const storableText = (v: string): boolean => !v.includes('\u0000') && !SURROGATE.test(v);

/** `alerts[0].labels.severity` from a path of keys and indexes; `body` for the empty path. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || 'body';
}

interface Step {
  value: unknown;
  key: PropertyKey | undefined;
  parent: Step | undefined;
}

const pathOf = (step: Step): string => {
  const keys: PropertyKey[] = [];
  for (let s: Step | undefined = step; s?.key !== undefined; s = s.parent) keys.push(s.key);
  return fieldPath(keys.reverse());
};

/**
 * The field path of the first string in a parsed body (a value, or an object's key) that
 * Postgres cannot store, or null when there is none. Walks plain objects and arrays without
 * recursion (a deeply nested body cannot overflow the stack); anything else (a Buffer, a number)
 * is left alone.
 */
export function unstorablePath(body: unknown): string | null {
  const stack: Step[] = [{ value: body, key: undefined, parent: undefined }];
  for (let step = stack.pop(); step; step = stack.pop()) {
    const { value } = step;
    if (typeof value === 'string') {
      if (!storableText(value)) return pathOf(step);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], key: i, parent: step });
    } else if (value !== null && typeof value === 'object') {
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) continue;
      const entries = Object.entries(value as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i];
        const at: Step = { value: v, key: k, parent: step };
        if (!storableText(k)) return pathOf(at);
        stack.push(at);
      }
    }
  }
  return null;
}
