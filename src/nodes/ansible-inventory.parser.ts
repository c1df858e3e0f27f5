import { isMap, LineCounter, parseDocument, type ScalarTag } from 'yaml';
import { formatPath, YamlLocator } from '../common/yaml-source.js';
import {
  flattenAnsible,
  GROUP_PRIORITY_VAR,
  HOST_VARS,
  isVaulted,
  PORT_VARS,
  scalarText,
  USER_VARS,
  VaultValue,
  type AnsibleImportResult,
} from './ansible-inventory.flatten.js';
import type { InventoryProblem } from './inventory.parser.js';
import {
  GROUP_NAME_MESSAGE,
  GROUP_NAME_RE,
  HOSTNAME_MESSAGE,
  HOSTNAME_RE,
  LOGIN_USER_RE,
  NODE_NAME_MESSAGE,
  NODE_NAME_RE,
  USER_MESSAGE,
} from './inventory.schema.js';

/**
 * Ansible inventories (INI and YAML) read into groups and hosts, with the connection variables
 * checked where they are written; `flattenAnsible` (ansible-inventory.flatten.ts) turns them
 * into what Firebreak stores. Pure functions.
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

export type AnsibleParseResult =
  | { ok: true; inventory: AnsibleInventory; problems: [] }
  | { ok: false; inventory?: undefined; problems: InventoryProblem[] };

const MAX_EXPANDED_HOSTS = 10_000;

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
    if (isVaulted(value) && [...HOST_VARS, ...PORT_VARS, ...USER_VARS].includes(key)) {
      this.problem(at, `${key}: a vault-encrypted value cannot be imported (write it in clear)`);
      return false;
    }
    if (HOST_VARS.includes(key) && (text === null || !HOSTNAME_RE.test(text)))
      message = HOSTNAME_MESSAGE;
    if (PORT_VARS.includes(key) && !validPort(text)) message = 'expected a port 1-65535';
    if (USER_VARS.includes(key) && (text === null || !LOGIN_USER_RE.test(text)))
      message = USER_MESSAGE;
    if (message) this.problem(at, `${key}: ${message}`);
    return message === null;
  }

  /** `ansible_group_priority` is an integer, as Ansible's `int()` of it requires. */
  groupVariable(key: string, value: unknown, at: { line: number; col: number }): boolean {
    if (key !== GROUP_PRIORITY_VAR) return true;
    if (/^[-+]?\d{1,9}$/.test(scalarText(value)?.trim() ?? '')) return true;
    this.problem(at, `${key}: expected a whole number`);
    return false;
  }
}

const validPort = (v: string | null) =>
  v !== null && /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;

/** Ansible's letters for alphabetic ranges, in its order (Python's `string.ascii_letters`). */
const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Expands host ranges as Ansible's `expand_hostname_range` does
 * (lib/ansible/plugins/inventory/__init__.py): `web[01:03].example.com` → web01…web03 (a start
 * written with a leading zero sets the width, and the end must have that width); `mail[:5]` →
 * mail0…mail5 (a missing start is 0, a missing end is refused); `db-[a:c]` → db-a…db-c (letters
 * run a…z then A…Z); `[1:10:2]` steps by 2; several ranges in one pattern multiply. Unlike
 * Ansible, a range that yields nothing (`[3:1]`) is refused rather than read as no hosts.
 */
export function expandHostPattern(pattern: string): string[] {
  const m = /^(.*?)\[([^\]]*)\](.*)$/.exec(pattern);
  if (!m) {
    if (/[[\]]/.test(pattern)) throw new Error('unbalanced [ ] in host range');
    return [pattern];
  }
  const [, head, range, tail] = m;
  const bounds = range.split(':');
  if (bounds.length !== 2 && bounds.length !== 3)
    throw new Error(`bad range [${range}]: expected [start:end] or [start:end:step]`);
  const from = bounds[0] === '' ? '0' : bounds[0];
  const to = bounds[1];
  if (to === '') throw new Error(`bad range [${range}]: the end is missing`);
  const stepText = bounds[2] ?? '1';
  if (!/^[1-9][0-9]*$/.test(stepText))
    throw new Error(`bad range [${range}]: the step is a whole number from 1`);
  const step = Number(stepText);
  const items: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    if (width && to.length !== width)
      throw new Error(`bad range [${range}]: a zero-padded start and the end have the same width`);
    for (let i = Number(from); i <= Number(to); i += step) {
      items.push(String(i).padStart(width, '0'));
      if (items.length > MAX_EXPANDED_HOSTS) throw new Error('range expands to too many hosts');
    }
  } else if (/^[A-Za-z]$/.test(from) && /^[A-Za-z]$/.test(to)) {
    const a = ASCII_LETTERS.indexOf(from);
    const z = ASCII_LETTERS.indexOf(to);
    if (a > z) throw new Error(`range [${range}] is empty (start after end: a…z come before A…Z)`);
    for (let i = a; i <= z; i += step) items.push(ASCII_LETTERS[i]);
  } else {
    throw new Error(`bad range [${range}]: both ends are numbers, or both single letters`);
  }
  if (items.length === 0) throw new Error(`range [${range}] is empty (start after end)`);
  const rest = expandHostPattern(tail);
  const out = items.flatMap((i) => rest.map((t) => `${head}${i}${t}`));
  if (out.length > MAX_EXPANDED_HOSTS) throw new Error('range expands to too many hosts');
  return out;
}

/**
 * An INI value as Ansible types it (`ast.literal_eval`), as far as Firebreak's string attributes
 * can tell: `True`/`False` are booleans (stored as `true`/`false`, like YAML's booleans); anything
 * else stays the text it is. A quoted value in a `:vars` section is always text.
 */
function iniValue(text: string, quoted = false): string | boolean {
  if (!quoted && (text === 'True' || text === 'False')) return text === 'True';
  return text;
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
      const written = stripComment(raw.slice(eq + 1)).trim();
      const text = unquote(written);
      const value = iniValue(text, text !== written);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        b.problem({ line, col }, `"${key}" is not a variable name`);
        return;
      }
      if (b.variable(key, value, { line, col }) && b.groupVariable(key, value, { line, col }))
        section.group.vars[key] = value;
      return;
    }
    const [host, ...rest] = words;
    const vars: Record<string, unknown> = {};
    let pattern = host.text;
    // `host:port`, where the host may hold ranges with colons of their own (`db[:3]:5432`).
    const hostPort = /^((?:[^:[\]]|\[[^\]]*\])+):(\d+)$/.exec(pattern);
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
      const value = iniValue(w.text.slice(eq + 1));
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

/** PyYAML's booleans (the `yaml` package's 1.1 schema also takes y/n, which PyYAML does not). */
const PYYAML_BOOL: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  resolve: (s) => /^(?:yes|true|on)$/i.test(s),
};

/** Ansible's own tags: `!vault` (an encrypted value, never decrypted here) and `!unsafe`. */
const ANSIBLE_TAGS: ScalarTag[] = [
  PYYAML_BOOL,
  { tag: '!vault', resolve: () => new VaultValue() },
  { tag: '!unsafe', resolve: (s) => s },
];

/**
 * YAML inventory: top-level groups (usually just `all`), each with `hosts` (name → variables),
 * `vars` and `children` (name → group).
 */
export function parseAnsibleYaml(text: string, file = '(inventory.yaml)'): AnsibleParseResult {
  const b = new Builder(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    // Ansible reads YAML 1.1 (PyYAML): yes/no/on/off are booleans, 0755 is octal.
    version: '1.1',
    customTags: (tags) => [
      ...tags.filter((t) => typeof t !== 'object' || t.tag !== PYYAML_BOOL.tag),
      ...ANSIBLE_TAGS,
    ],
  });
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
        for (const [k, v] of Object.entries(vars)) {
          const at = locate.at([...path, 'vars', k]);
          if (b.variable(k, v, at) && b.groupVariable(k, v, at)) group.vars[k] = v;
        }
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
