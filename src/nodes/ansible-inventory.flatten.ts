import type { AnsibleInventory } from './ansible-inventory.parser.js';
import type { InventoryProblem } from './inventory.parser.js';
import { ATTRIBUTE_KEY_RE, MAX_ATTRIBUTE_VALUE } from './inventory.schema.js';

/**
 * An Ansible inventory (groups and hosts, as ansible-inventory.parser.ts reads them) flattened
 * into what Firebreak stores: nodes with connection settings and string attributes, and one
 * cluster per group with an explicit node list (children flattened). Pure functions.
 *
 * Variable precedence follows Ansible (`sort_groups` in lib/ansible/inventory/helpers.py): `all`,
 * then groups by (depth, `ansible_group_priority` (default 1), name), names compared by code point
 * as Python does (`Zeta` before `alpha`, `web-a` before `web_a`), the group applied last winning;
 * then the host's own variables. `ansible_host`/`ansible_port`/`ansible_user` (and their
 * `ansible_ssh_*` spellings) become hostname, port and user; every other `ansible_*` variable,
 * and any variable that looks like a secret, is left out and named in the report. A `!vault`
 * value is a secret whatever its name: never stored, and named (host and variable) in the report.
 *
 * Attributes are strings: booleans become `true`/`false` (INI `True`, YAML `true`/`yes`/`on`),
 * numbers their decimal text, lists and mappings their JSON.
 */

export interface AnsibleHost {
  name: string;
  hostname: string;
  port: number;
  username: string | null;
  /** `local` for `ansible_connection=local` (run on the Firebreak host), else `ssh`. */
  connection: 'ssh' | 'local';
  attributes: Record<string, string>;
  /** Groups the host belongs to, directly or through children (without `all`/`ungrouped`). */
  groups: string[];
}

export interface AnsibleImport {
  hosts: AnsibleHost[];
  clusters: Array<{ name: string; nodes: string[] }>;
  /** Variables that were not imported (connection settings other than host/port/user, secrets). */
  ignoredVars: string[];
  /** Vault-encrypted values that were not imported: where, never what. */
  vaultVars: Array<{ host: string; variable: string }>;
}

export type AnsibleImportResult =
  | { ok: true; result: AnsibleImport; problems: [] }
  | { ok: false; result?: undefined; problems: InventoryProblem[] };

export const HOST_VARS = ['ansible_host', 'ansible_ssh_host'];
export const PORT_VARS = ['ansible_port', 'ansible_ssh_port'];
export const USER_VARS = ['ansible_user', 'ansible_ssh_user', 'ansible_remote_user'];
/** `ansible_connection`: `local` becomes a local-connection node; ssh/paramiko are the default. */
export const CONNECTION_VAR = 'ansible_connection';
/** Variables never imported as attributes: they hold secrets. */
const SECRET_VAR_RE = /(pass|secret|token|api[-_]?key|private[-_]?key|credential|vault)/i;
const IMPLICIT_GROUPS = new Set(['all', 'ungrouped']);
/** Orders groups of one depth (Ansible's `Group.priority`); never a variable of its own. */
export const GROUP_PRIORITY_VAR = 'ansible_group_priority';

/** A `!vault` value from a YAML inventory: the ciphertext is dropped as soon as it is read. */
export class VaultValue {
  toJSON(): string {
    return '[vault]';
  }
}

/** A vault-encrypted value, or a structure holding one (a `!vault` tag, or `$ANSIBLE_VAULT;…`). */
export function isVaulted(v: unknown): boolean {
  if (v instanceof VaultValue) return true;
  if (typeof v === 'string') return v.trimStart().startsWith('$ANSIBLE_VAULT;');
  if (Array.isArray(v)) return v.some(isVaulted);
  if (v !== null && typeof v === 'object') return Object.values(v).some(isVaulted);
  return false;
}

/** Python's string order (by code point), not the locale's. */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function scalarText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
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

  const priorityOf = (g: string) => Number(scalarText(groups[g]?.vars[GROUP_PRIORITY_VAR]) ?? 1);
  const ignored = new Set<string>();
  const vaultVars: AnsibleImport['vaultVars'] = [];
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
      (a, b) =>
        (depth.get(a) ?? 0) - (depth.get(b) ?? 0) ||
        priorityOf(a) - priorityOf(b) ||
        byCodePoint(a, b),
    );
    const vars: Record<string, unknown> = {};
    for (const g of ordered) Object.assign(vars, groups[g]?.vars ?? {});
    // Ansible keeps the priority on the group (Group.set_priority), not among its variables.
    delete vars[GROUP_PRIORITY_VAR];
    Object.assign(vars, inv.hosts[name]);

    const pick = (keys: string[]) => {
      for (const k of keys) if (vars[k] !== undefined) return scalarText(vars[k]);
      return null;
    };
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) {
      if (isVaulted(v)) {
        vaultVars.push({ host: name, variable: k });
        continue;
      }
      if (k.startsWith('ansible_')) {
        const mapped =
          [...HOST_VARS, ...PORT_VARS, ...USER_VARS].includes(k) ||
          (k === CONNECTION_VAR && scalarText(v) === 'local');
        if (!mapped) ignored.add(k);
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
      connection: pick([CONNECTION_VAR]) === 'local' ? 'local' : 'ssh',
      attributes,
      groups: [...all].filter((g) => !IMPLICIT_GROUPS.has(g)).sort(),
    });
  }

  const clusters = Object.keys(groups)
    .filter((g) => !IMPLICIT_GROUPS.has(g))
    .sort(byCodePoint)
    .map((g) => {
      const members = new Set(groups[g].hosts);
      for (const d of descendants(g)) for (const h of groups[d]?.hosts ?? []) members.add(h);
      return { name: g, nodes: [...members].sort() };
    });
  return {
    ok: true,
    result: {
      hosts,
      clusters,
      ignoredVars: [...ignored].sort(),
      vaultVars: vaultVars.sort(
        (a, b) => byCodePoint(a.host, b.host) || byCodePoint(a.variable, b.variable),
      ),
    },
    problems: [],
  };
}

class CycleError extends Error {
  constructor(readonly group: string) {
    super(`cycle at ${group}`);
  }
}
