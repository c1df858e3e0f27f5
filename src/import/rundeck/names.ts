/**
 * Rundeck names are free text ("Restart Web Servers"); Firebreak's are 2-63 lower-case letters,
 * digits and dashes (runbooks), lower_snake_case (options), a step name per step.
 */
import { slugify } from '../shell-refs.js';

function ascii(s: string): string {
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
}

/** "Restart Web Servers" → "restart-web-servers". */
export function jobSlug(name: string): string {
  let s = slugify(name, { camel: true });
  if (s.length < 2) s = `job-${s || 'unnamed'}`.replace(/-+$/, '');
  return s;
}

/** A folder or tag from a group segment: "Sys Adm" → "sys-adm". */
export function pathSlug(segment: string): string {
  return ascii(segment)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|-+$/g, '')
    .slice(0, 63);
}

/** "reqOpt1", "target-host", "db.name" → "req_opt1", "target_host", "db_name". */
export function optionSlug(name: string): string {
  let s = slugify(name, { sep: '_', max: 60, camel: true });
  if (!/^[a-z]/.test(s)) s = `opt_${s}`.replace(/_+$/, '');
  return s;
}

export function stepSlug(text: string): string {
  return slugify(text, { max: 40 });
}

/** `base`, else `prefix-base`, else `base-2`, `base-3`… (never one in `taken`). */
export function uniqueName(
  base: string,
  taken: ReadonlySet<string>,
  prefix?: string,
  sep = '-',
  max = 63,
): string {
  const limit = max > 1 ? max : 63;
  if (!taken.has(base)) return base;
  if (prefix) {
    const p = `${prefix}${sep}${base}`.slice(0, limit);
    if (!taken.has(p)) return p;
  }
  for (let n = 2; ; n++) {
    const suffix = `${sep}${n}`;
    const c = `${base.slice(0, limit - suffix.length)}${suffix}`;
    if (!taken.has(c)) return c;
  }
}
