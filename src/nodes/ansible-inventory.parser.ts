import { isMap, LineCounter, parseDocument } from 'yaml';
import { formatPath, YamlLocator } from '../common/yaml-source.js';
import type { InventoryProblem } from './inventory.parser.js';
import {
  ATTRIBUTE_KEY_RE,
  GROUP_NAME_MESSAGE,
  GROUP_NAME_RE,
  HOSTNAME_MESSAGE,
  HOSTNAME_RE,
  LOGIN_USER_RE,
  MAX_ATTRIBUTE_VALUE,
  NODE_NAME_MESSAGE,
  NODE_NAME_RE,
  USER_MESSAGE,
} from './inventory.schema.js';

/**
 * Ansible inventories (INI and YAML) read into groups and hosts, then flattened into what
 * Firebreak stores: nodes with connection settings and string attributes, and one cluster per
 * group with an explicit node list (children flattened). Pure functions.
 *
 * Variable precedence follows Ansible: `all`, then groups by depth (parents before children,
 * siblings by name), then the host's own variables. `ansible_host`/`ansible_port`/`ansible_user`
 * (and their `ansible_ssh_*` spellings) become hostname, port and user; every other `ansible_*`
 * variable, and any variable that looks like a secret, is left out and named in the report.
 */

export interface AnsibleGroup {
  name: string;
  /** Hosts listed directly in the group. */
  hosts: string[];
  children: string[];
  vars: Record<string, unknown>;
  /** Where the group is first defined. */
  at: { line: number; col: number };
}

export interface AnsibleInventory {
  groups: Record<string, AnsibleGroup>;
  /** Every host with its own variables (merged when a host is listed more than once). */
  hosts: Record<string, Record<string, unknown>>;
}

export interface AnsibleHost {
  name: string;
  hostname: string;
  port: number;
  username: string | null;
  attributes: Record<string, string>;
  /** Groups the host belongs to, directly or through children (without `all`/`ungrouped`). */
  groups: string[];
}

export interface AnsibleImport {
  hosts: AnsibleHost[];
  clusters: Array<{ name: string; nodes: string[] }>;
  /** Variables that were not imported (connection settings other than host/port/user, secrets). */
  ignoredVars: string[];
}

export type AnsibleParseResult =
  | { ok: true; inventory: AnsibleInventory; problems: [] }
  | { ok: false; inventory?: undefined; problems: InventoryProblem[] };

export type AnsibleImportResult =
  | { ok: true; result: AnsibleImport; problems: [] }
  | { ok: false; result?: undefined; problems: InventoryProblem[] };

const HOST_VARS = ['ansible_host', 'ansible_ssh_host'];
const PORT_VARS = ['ansible_port', 'ansible_ssh_port'];
const USER_VARS = ['ansible_user', 'ansible_ssh_user', 'ansible_remote_user'];
/** Variables never imported as attributes: they hold secrets. */
const SECRET_VAR_RE = /(pass|secret|token|api[-_]?key|private[-_]?key|credential|vault)/i;
const MAX_EXPANDED_HOSTS = 10_000;
const IMPLICIT_GROUPS = new Set(['all', 'ungrouped']);

/** Parses and flattens in one step: what the import calls. */
export function readAnsibleInventory(
  text: string,
  format: 'ini' | 'yaml',
  file = format === 'ini' ? '(inventory.ini)' : '(inventory.yaml)',
): AnsibleImportResult {
  const parsed = format === 'ini' ? parseAnsibleIni(text, file) : parseAnsibleYaml(text, file);
  if (!parsed.ok) return parsed;
  return flattenAnsible(parsed.inventory, file);
}

/** A problem-collecting builder shared by both formats. */
class Builder {
  readonly problems: InventoryProblem[] = [];
  readonly inv: AnsibleInventory = { groups: {}, hosts: {} };

  constructor(private readonly file: string) {}

  problem(at: { line: number; col: number }, message: string, path: (string | number)[] = []) {
    this.problems.push({ file: this.file, path: formatPath(path), ...at, message });
  }

  group(name: string, at: { line: number; col: number }): AnsibleGroup | null {
    if (!GROUP_NAME_RE.test(name)) {
      this.problem(at, `group "${name}": ${GROUP_NAME_MESSAGE}`);
      return null;
    }
    return (this.inv.groups[name] ??= { name, hosts: [], children: [], vars: {}, at });
  }

  /** Adds a host pattern (ranges expanded) to a group with its variables. */
  hosts(
    group: AnsibleGroup,
    pattern: string,
    vars: Record<string, unknown>,
    at: { line: number; col: number },
  ) {
    let names: string[];
    try {
      names = expandHostPattern(pattern);
    } catch (e) {
      this.problem(at, `host "${pattern}": ${(e as Error).message}`);
      return;
    }
    for (const name of names) {
      if (!NODE_NAME_RE.test(name)) {
        this.problem(at, `host "${name}": ${NODE_NAME_MESSAGE}`);
        return;
      }
      if (!group.hosts.includes(name)) group.hosts.push(name);
      this.inv.hosts[name] = { ...this.inv.hosts[name], ...vars };
    }
  }

  /** Checks the connection variables where they are written, so problems have a location. */
  variable(key: string, value: unknown, at: { line: number; col: number }): boolean {
    const text = scalarText(value);
    let message: string | null = null;
    if (HOST_VARS.includes(key) && (text === null || !HOSTNAME_RE.test(text)))
      message = HOSTNAME_MESSAGE;
    if (PORT_VARS.includes(key) && !validPort(text)) message = 'expected a port 1-65535';
    if (USER_VARS.includes(key) && (text === null || !LOGIN_USER_RE.test(text)))
      message = USER_MESSAGE;
    if (message) this.problem(at, `${key}: ${message}`);
    return message === null;
  }
}

const validPort = (v: string | null) =>
  v !== null && /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;

function scalarText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/**
 * `web[01:03].example.com` → web01, web02, web03 (zero padding kept); `db-[a:c]` → db-a…db-c;
 * `[0:10:5]` steps by 5. Several ranges in one pattern multiply.
 */
export function expandHostPattern(pattern: string): string[] {
  const m = /^(.*?)\[([^\]]*)\](.*)$/.exec(pattern);
  if (!m) {
    if (/[[\]]/.test(pattern)) throw new Error('unbalanced [ ] in host range');
    return [pattern];
  }
  const [, head, range, tail] = m;
  const r = /^([0-9]+|[a-z]+|[A-Z]+):([0-9]+|[a-z]+|[A-Z]+)(?::([1-9][0-9]*))?$/.exec(range);
  if (!r) throw new Error(`bad range [${range}]: expected [start:end] or [start:end:step]`);
  const [, from, to, stepText] = r;
  const step = Number(stepText ?? 1);
  const items: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    for (let i = Number(from); i <= Number(to); i += step) {
      items.push(String(i).padStart(width, '0'));
      if (items.length > MAX_EXPANDED_HOSTS) throw new Error('range expands to too many hosts');
    }
  } else if (from.length === 1 && to.length === 1 && /^\D$/.test(from) && /^\D$/.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step)
      items.push(String.fromCharCode(c));
  } else {
    throw new Error(`bad range [${range}]: both ends are numbers, or both single letters`);
  }
  if (items.length === 0) throw new Error(`range [${range}] is empty (start after end)`);
  const rest = expandHostPattern(tail);
  const out = items.flatMap((i) => rest.map((t) => `${head}${i}${t}`));
  if (out.length > MAX_EXPANDED_HOSTS) throw new Error('range expands to too many hosts');
  return out;
}

/** Splits an INI line into words: whitespace separates, quotes group, ` #` starts a comment. */
function iniWords(line: string): Array<{ text: string; col: number }> {
  const words: Array<{ text: string; col: number }> = [];
  let cur = '';
  let start = -1;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      if (start < 0) start = i;
      quote = c;
      continue;
    }
    if (/\s/.test(c)) {
      if (start >= 0) words.push({ text: cur, col: start + 1 });
      cur = '';
      start = -1;
      continue;
    }
    if ((c === '#' || c === ';') && start < 0) break;
    if (start < 0) start = i;
    cur += c;
  }
  if (quote) throw new Error('unterminated quote');
  if (start >= 0) words.push({ text: cur, col: start + 1 });
  return words;
}

/**
 * INI inventory: `[group]` host lines (`host key=value …`, `host:port`, ranges), `[group:vars]`
 * `key=value` lines, `[group:children]` group names. Hosts before any section are `ungrouped`.
 */
export function parseAnsibleIni(text: string, file = '(inventory.ini)'): AnsibleParseResult {
  const b = new Builder(file);
  let section: { group: AnsibleGroup | null; kind: 'hosts' | 'vars' | 'children' } = {
    group: b.group('ungrouped', { line: 1, col: 1 }),
    kind: 'hosts',
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const col = raw.indexOf(trimmed) + 1;
    if (trimmed.startsWith('[')) {
      const m = /^\[([^\]:\s]+)(?::([^\]\s]+))?\]\s*([#;].*)?$/.exec(trimmed);
      if (!m) {
        b.problem({ line, col }, `malformed section header ${trimmed}`);
        section = { group: null, kind: 'hosts' };
        return;
      }
      const kind = (m[2] ?? 'hosts') as 'hosts' | 'vars' | 'children';
      if (!['hosts', 'vars', 'children'].includes(kind) || m[2] === 'hosts') {
        b.problem(
          { line, col: col + m[1].length + 2 },
          `unknown section kind ":${m[2]}": expected [${m[1]}], [${m[1]}:vars] or [${m[1]}:children]`,
        );
        section = { group: null, kind: 'hosts' };
        return;
      }
      section = { group: b.group(m[1], { line, col: col + 1 }), kind };
      return;
    }
    if (!section.group) return; // under a broken header: already reported
    let words: Array<{ text: string; col: number }>;
    try {
      words = iniWords(raw);
    } catch (e) {
      b.problem({ line, col }, (e as Error).message);
      return;
    }
    if (words.length === 0) return;
    if (section.kind === 'children') {
      const childName = words[0].text;
      const childGroup = b.group(childName, { line, col: words[0].col });
      if (childGroup && !section.group.children.includes(childName))
        section.group.children.push(childName);
      if (words.length > 1)
        b.problem({ line, col: words[1].col }, 'a children section lists one group per line');
      return;
    }
    if (section.kind === 'vars') {
      const eq = raw.indexOf('=');
      if (eq < 0) {
        b.problem({ line, col }, 'expected key=value');
        return;
      }
      const key = raw.slice(0, eq).trim();
      const value = unquote(stripComment(raw.slice(eq + 1)).trim());
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        b.problem({ line, col }, `"${key}" is not a variable name`);
        return;
      }
      if (b.variable(key, value, { line, col })) section.group.vars[key] = value;
      return;
    }
    const [host, ...rest] = words;
    const vars: Record<string, unknown> = {};
    let pattern = host.text;
    const hostPort = /^([^:]+):(\d+)$/.exec(pattern);
    if (hostPort) {
      pattern = hostPort[1];
      vars.ansible_port = hostPort[2];
      if (!b.variable('ansible_port', hostPort[2], { line, col: host.col })) return;
    }
    for (const w of rest) {
      const eq = w.text.indexOf('=');
      if (eq <= 0) {
        b.problem({ line, col: w.col }, `expected key=value after the host name, got "${w.text}"`);
        return;
      }
      const key = w.text.slice(0, eq);
      const value = w.text.slice(eq + 1);
      if (!b.variable(key, value, { line, col: w.col })) return;
      vars[key] = value;
    }
    b.hosts(section.group, pattern, vars, { line, col: host.col });
  });
  if (b.problems.length) return { ok: false, problems: b.problems };
  return { ok: true, inventory: b.inv, problems: [] };
}

function stripComment(v: string): string {
  const m = /\s[#;]/.exec(v);
  return m && !/^\s*["']/.test(v) ? v.slice(0, m.index) : v;
}

function unquote(v: string): string {
  const m = /^(["'])(.*)\1$/.exec(v);
  return m ? m[2] : v;
}

/**
 * YAML inventory: top-level groups (usually just `all`), each with `hosts` (name → variables),
 * `vars` and `children` (name → group).
 */
export function parseAnsibleYaml(text: string, file = '(inventory.yaml)'): AnsibleParseResult {
  const b = new Builder(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  for (const err of doc.errors) {
    b.problem(err.linePos?.[0] ?? lines.linePos(err.pos[0]), `YAML: ${err.message.split('\n')[0]}`);
  }
  if (b.problems.length) return { ok: false, problems: b.problems };
  const locate = new YamlLocator(doc, lines);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    b.problem({ line: 1, col: 1 }, `YAML: ${(e as Error).message}`);
    return { ok: false, problems: b.problems };
  }
  if (data === null || data === undefined) data = {};
  if (!isMap(doc.contents) && Object.keys(data as object).length > 0) {
    b.problem({ line: 1, col: 1 }, 'an Ansible YAML inventory is a mapping of groups (all: …)');
    return { ok: false, problems: b.problems };
  }

  type Path = (string | number)[];
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);

  const readGroup = (name: string, def: unknown, path: Path, parent: AnsibleGroup | null) => {
    const group = b.group(name, locate.at(path.slice(0, -1), name));
    if (!group) return;
    if (parent && !parent.children.includes(name)) parent.children.push(name);
    if (def === null || def === undefined) return;
    if (!isObject(def)) {
      b.problem(locate.at(path), 'a group is a mapping with hosts, vars and children', path);
      return;
    }
    for (const key of Object.keys(def)) {
      if (!['hosts', 'vars', 'children'].includes(key)) {
        b.problem(
          locate.at(path, key),
          `unknown key "${key}": a group has hosts, vars and children`,
          [...path, key],
        );
      }
    }
    const hosts = def.hosts;
    if (hosts !== undefined && hosts !== null) {
      if (!isObject(hosts)) {
        b.problem(locate.at([...path, 'hosts']), 'hosts is a mapping of host names', [
          ...path,
          'hosts',
        ]);
      } else {
        for (const [host, vars] of Object.entries(hosts)) {
          const hostPath = [...path, 'hosts', host];
          if (vars !== null && vars !== undefined && !isObject(vars)) {
            b.problem(locate.at(hostPath), 'host variables are a mapping', hostPath);
            continue;
          }
          const ok = Object.entries(vars ?? {}).every(([k, v]) =>
            b.variable(k, v, locate.at([...hostPath, k])),
          );
          if (ok) b.hosts(group, host, vars ?? {}, locate.at([...path, 'hosts'], host));
        }
      }
    }
    const vars = def.vars;
    if (vars !== undefined && vars !== null) {
      if (!isObject(vars)) {
        b.problem(locate.at([...path, 'vars']), 'vars is a mapping', [...path, 'vars']);
      } else {
        for (const [k, v] of Object.entries(vars))
          if (b.variable(k, v, locate.at([...path, 'vars', k]))) group.vars[k] = v;
      }
    }
    const children = def.children;
    if (children !== undefined && children !== null) {
      if (!isObject(children)) {
        b.problem(locate.at([...path, 'children']), 'children is a mapping of groups', [
          ...path,
          'children',
        ]);
      } else {
        for (const [child, childDef] of Object.entries(children))
          readGroup(child, childDef, [...path, 'children', child], group);
      }
    }
  };
  for (const [name, def] of Object.entries(data as Record<string, unknown>))
    readGroup(name, def, [name], null);
  if (b.problems.length) return { ok: false, problems: b.problems };
  return { ok: true, inventory: b.inv, problems: [] };
}

/** Hosts with their effective variables mapped to node fields, and groups as clusters. */
export function flattenAnsible(inv: AnsibleInventory, file = '(inventory)'): AnsibleImportResult {
  const problems: InventoryProblem[] = [];
  const groups = inv.groups;
  const parents = new Map<string, Set<string>>();
  for (const g of Object.values(groups)) {
    for (const c of g.children) {
      if (!parents.has(c)) parents.set(c, new Set());
      parents.get(c)!.add(g.name);
    }
  }

  // Depth from `all`, refusing cycles (a group that is its own ancestor).
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    if (name === 'all') return 0;
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) throw new CycleError(name);
    visiting.add(name);
    const ps = [...(parents.get(name) ?? [])];
    const d = 1 + Math.max(0, ...ps.map(depthOf));
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  try {
    for (const name of Object.keys(groups)) depthOf(name);
  } catch (e) {
    if (!(e instanceof CycleError)) throw e;
    const at = groups[e.group]?.at ?? { line: 1, col: 1 };
    problems.push({
      file,
      path: '',
      ...at,
      message: `group "${e.group}" is its own ancestor (children form a cycle)`,
    });
    return { ok: false, problems };
  }

  const ancestors = (name: string, out = new Set<string>()): Set<string> => {
    for (const p of parents.get(name) ?? []) {
      if (!out.has(p)) {
        out.add(p);
        ancestors(p, out);
      }
    }
    return out;
  };
  const descendants = (name: string, out = new Set<string>()): Set<string> => {
    for (const c of groups[name]?.children ?? []) {
      if (!out.has(c)) {
        out.add(c);
        descendants(c, out);
      }
    }
    return out;
  };

  const ignored = new Set<string>();
  const hosts: AnsibleHost[] = [];
  const memberOf = new Map<string, Set<string>>();
  for (const g of Object.values(groups)) {
    for (const h of g.hosts) {
      if (!memberOf.has(h)) memberOf.set(h, new Set());
      memberOf.get(h)!.add(g.name);
    }
  }
  for (const name of Object.keys(inv.hosts).sort()) {
    const direct = memberOf.get(name) ?? new Set<string>();
    const all = new Set<string>(['all']);
    for (const g of direct) {
      all.add(g);
      for (const a of ancestors(g)) all.add(a);
    }
    const ordered = [...all].sort(
      (a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || a.localeCompare(b),
    );
    const vars: Record<string, unknown> = {};
    for (const g of ordered) Object.assign(vars, groups[g]?.vars ?? {});
    Object.assign(vars, inv.hosts[name]);

    const pick = (keys: string[]) => {
      for (const k of keys) if (vars[k] !== undefined) return scalarText(vars[k]);
      return null;
    };
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) {
      if (k.startsWith('ansible_')) {
        if (![...HOST_VARS, ...PORT_VARS, ...USER_VARS].includes(k)) ignored.add(k);
        continue;
      }
      if (SECRET_VAR_RE.test(k) || !ATTRIBUTE_KEY_RE.test(k)) {
        ignored.add(k);
        continue;
      }
      const text = scalarText(v) ?? JSON.stringify(v);
      if (text.length > MAX_ATTRIBUTE_VALUE) {
        ignored.add(k);
        continue;
      }
      attributes[k] = text;
    }
    hosts.push({
      name,
      hostname: pick(HOST_VARS) ?? name,
      port: Number(pick(PORT_VARS) ?? 22),
      username: pick(USER_VARS),
      attributes,
      groups: [...all].filter((g) => !IMPLICIT_GROUPS.has(g)).sort(),
    });
  }

  const clusters = Object.keys(groups)
    .filter((g) => !IMPLICIT_GROUPS.has(g))
    .sort()
    .map((g) => {
      const members = new Set(groups[g].hosts);
      for (const d of descendants(g)) for (const h of groups[d]?.hosts ?? []) members.add(h);
      return { name: g, nodes: [...members].sort() };
    });
  return {
    ok: true,
    result: { hosts, clusters, ignoredVars: [...ignored].sort() },
    problems: [],
  };
}

class CycleError extends Error {
  constructor(readonly group: string) {
    super(`cycle at ${group}`);
  }
}
