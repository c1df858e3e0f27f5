import type { NodeFilter } from '../../nodes/node-filter.schema.js';

/**
 * A Rundeck node filter → a Firebreak `targets.nodes` filter.
 *
 * Rundeck's filter string is `key: value` pairs (`tags: web+prod name: web.* !os-family:
 * windows`), a bare word being a name; values are comma-separated alternatives, `+` joins tags
 * that must all be present, and a value is a regular expression when it has regex characters.
 * The XML (and old YAML) form has `<include>`/`<exclude>` maps of the same keys. Firebreak
 * filters are names and globs, all-of / any-of tags, attribute equality and excluded names: what
 * maps exactly is converted, anything else is returned in `skipped` with why.
 */
export interface FilterConversion {
  filter: NodeFilter | null;
  skipped: string[];
}

/** A Rundeck name regular expression as a glob, when it is one (`web-.*` → `web-*`). */
export function regexToGlob(value: string): string | null {
  const v = value.replace(/^\^/, '').replace(/\$$/, '');
  let out = '';
  for (let i = 0; i < v.length; i++) {
    if (v.startsWith('.*', i)) {
      out += '*';
      i++;
    } else if (v[i] === '\\' && v[i + 1] === '.') {
      out += '.';
      i++;
    } else if (/[A-Za-z0-9_-]/.test(v[i])) out += v[i];
    else if (v[i] === '.') out += '?';
    else return null;
  }
  return out;
}

const literal = (v: string) => /^[A-Za-z0-9_.:@/-]+$/.test(v) && !/\.\*|\.\+|\.\?/.test(v);

/** Splits a filter string into [key, value, negated] terms. */
export function tokenizeFilter(text: string): Array<{ key: string; value: string; not: boolean }> {
  const terms: Array<{ key: string; value: string; not: boolean }> = [];
  const re = /\s*(!)?(?:([A-Za-z0-9_.-]+):\s*)?("(?:[^"\\]|\\.)*"|'[^']*'|\S+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && m[0].trim()) {
    let value = m[3];
    if (/^["']/.test(value)) value = value.slice(1, -1);
    terms.push({ key: m[2] ?? 'name', value, not: Boolean(m[1]) });
  }
  return terms;
}

export function convertFilter(nf: Record<string, unknown>): FilterConversion {
  const skipped: string[] = [];
  const filter: NodeFilter = {};
  const terms: Array<{ key: string; value: string; not: boolean }> = [];
  if (typeof nf.filter === 'string' || typeof nf.filter === 'number')
    terms.push(...tokenizeFilter(String(nf.filter)));
  for (const [side, not] of [
    ['include', false],
    ['exclude', true],
  ] as const) {
    const m = nf[side];
    if (m && typeof m === 'object' && !Array.isArray(m))
      for (const [key, value] of Object.entries(m as Record<string, unknown>))
        if (typeof value === 'string' || typeof value === 'number')
          if (String(value).trim() !== '') terms.push({ key, value: String(value).trim(), not });
  }
  if (!terms.length) return { filter: null, skipped: ['is empty'] };
  for (const { key, value, not } of terms) {
    const term = `${not ? '!' : ''}${key}: ${value}`;
    if (key === 'name' || key === 'nodename') {
      const names: string[] = [];
      for (const alt of value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        if (alt === '.*') continue;
        const glob = literal(alt) ? alt : regexToGlob(alt);
        if (glob === null) {
          skipped.push(
            `term "${term}" not converted: the regular expression ${alt} is not a name glob`,
          );
          continue;
        }
        names.push(glob);
      }
      if (!names.length) continue;
      if (not) filter.exclude = [...(filter.exclude ?? []), ...names];
      else if (filter.names)
        skipped.push(`term "${term}" not converted: only one name term is kept`);
      else filter.names = names;
      continue;
    }
    if (key === 'tags') {
      if (not) {
        skipped.push(`term "${term}" not converted: Firebreak cannot exclude by tag`);
        continue;
      }
      const any = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (any.length > 1 && any.some((a) => a.includes('+'))) {
        skipped.push(
          `term "${term}" not converted: a choice between tag combinations cannot be expressed`,
        );
        continue;
      }
      const all =
        any.length === 1
          ? any[0]
              .split('+')
              .map((s) => s.trim())
              .filter(Boolean)
          : [];
      const bad = [...all, ...(any.length > 1 ? any : [])].find((t) => !literal(t));
      if (bad) {
        skipped.push(`term "${term}" not converted: tag ${bad} is a pattern`);
        continue;
      }
      if (any.length > 1) filter.tagsAny = [...(filter.tagsAny ?? []), ...any];
      else filter.tags = [...(filter.tags ?? []), ...all];
      continue;
    }
    if (not) {
      skipped.push(`term "${term}" not converted: Firebreak excludes by node name only`);
      continue;
    }
    if (value.includes(',') || !literal(value)) {
      skipped.push(`term "${term}" not converted: attribute filters are equality on one value`);
      continue;
    }
    filter.attributes = { ...(filter.attributes ?? {}), [key]: value };
  }
  return { filter, skipped };
}
