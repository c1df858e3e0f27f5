import { SaxesParser } from 'saxes';
import { loadYamlSource, type PathKey } from '../common/yaml-source.js';
import type { InventoryProblem } from './inventory.parser.js';
import {
  ATTRIBUTE_KEY_RE,
  HOSTNAME_MESSAGE,
  HOSTNAME_RE,
  LOGIN_USER_RE,
  MAX_ATTRIBUTE_VALUE,
  NODE_NAME_MESSAGE,
  NODE_NAME_RE,
  TAG_MESSAGE,
  TAG_RE,
  USER_MESSAGE,
} from './inventory.schema.js';

/**
 * Rundeck resource model sources (the project's node list) read into what Firebreak stores, per
 * Rundeck's format references: resource-yaml-v13 (a map of node names to entries, or a list of
 * entries), resource-v13 XML (`<project><node name=… hostname=…/>`, custom attributes as XML
 * attributes or nested `<attribute name value/>`), resource-json-v10 (a map or an array).
 *
 * `nodename` (XML `name`) and `hostname` are required; `hostname` may carry the SSH port
 * (`host:port`, `[v6]:port`); `username` is the login user; `tags` a comma-separated string or a
 * list. `description`, `osFamily`, `osName`, `osArch`, `osVersion` and any custom attribute become
 * string attributes. Credential references (`ssh-key-storage-path`, `ssh-password-storage-path`, …)
 * are never imported, nor are node executors and file copiers other than SSH and local: each is
 * named (node and attribute, never the value) in `notImported`. `node-executor: local` makes a
 * node run on the Firebreak host, as Ansible's `ansible_connection=local` does. Pure functions.
 */

export type RundeckFormat = 'yaml' | 'xml' | 'json';

export interface RundeckNode {
  name: string;
  hostname: string;
  port: number;
  username: string | null;
  tags: string[];
  attributes: Record<string, string>;
  connection: 'ssh' | 'local';
}

export interface RundeckResources {
  nodes: RundeckNode[];
  /** What was not imported, per node: credential references, executors, unusable attributes. */
  notImported: Array<{ node: string; attribute: string; reason: string }>;
}

export type RundeckReadResult =
  | { ok: true; result: RundeckResources; problems: [] }
  | { ok: false; result?: undefined; problems: InventoryProblem[] };

const MAX_BYTES = 1024 * 1024;
const MAX_NODES = 10_000;

/** Rundeck attributes that name stored secrets: never imported, always reported. */
const CREDENTIAL_ATTRS =
  /(^|-)(storage-path|password|passphrase|keypath|key-file)$|^ssh-authentication$/;
/** Executors and copiers that mean "over SSH" (Firebreak's default) or "on this host". */
const SSH_PROVIDERS = ['jsch-ssh', 'sshj-ssh', 'ssh-exec', 'jsch-scp', 'sshj-scp'];
const LOCAL_PROVIDERS = ['local'];
const NOT_ATTRIBUTES: Record<string, string> = {
  editUrl: 'Rundeck resource editor link',
  remoteUrl: 'Rundeck resource editor link',
  type: 'the Rundeck node type is not used',
};

/** One node entry as the format gave it, with a way to say where a field is. */
interface Entry {
  /** The map key (YAML/JSON map form); the default name. */
  key?: string;
  fields: Record<string, unknown>;
  /** Line and column of the entry, or of one of its fields. */
  at(field?: string): { line: number; col: number };
  /** The YAML path of the entry (for problems), e.g. `[2]` or `web-1`. */
  path: PathKey[];
}

export function formatFromName(file: string): RundeckFormat {
  return /\.xml$/i.test(file) ? 'xml' : /\.json$/i.test(file) ? 'json' : 'yaml';
}

export function readRundeckResources(
  text: string,
  format: RundeckFormat,
  file = `(resources.${format})`,
): RundeckReadResult {
  const problems: InventoryProblem[] = [];
  const entries =
    format === 'xml' ? xmlEntries(text, file, problems) : yamlEntries(text, file, problems);
  if (problems.length) return { ok: false, problems };
  if (entries.length > MAX_NODES) {
    return {
      ok: false,
      problems: [{ file, path: '', line: 1, col: 1, message: `more than ${MAX_NODES} nodes` }],
    };
  }
  const result: RundeckResources = { nodes: [], notImported: [] };
  const seen = new Map<string, number>();
  entries.forEach((e) => {
    const problem = (field: string | undefined, message: string) =>
      problems.push({
        file,
        path: [...e.path, ...(field ? [field] : [])].map(String).join('.'),
        ...e.at(field),
        message,
      });
    const node = toNode(e, problem, result.notImported);
    if (!node) return;
    const first = seen.get(node.name);
    if (first !== undefined) {
      problem(
        format === 'xml' ? 'name' : 'nodename',
        `duplicate node "${node.name}" (also line ${first})`,
      );
      return;
    }
    seen.set(node.name, e.at().line);
    result.nodes.push(node);
  });
  if (problems.length) return { ok: false, problems };
  return { ok: true, result, problems: [] };
}

const text = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;

function toNode(
  e: Entry,
  problem: (field: string | undefined, message: string) => void,
  notImported: RundeckResources['notImported'],
): RundeckNode | null {
  const f = e.fields;
  const nameField = 'nodename' in f ? 'nodename' : 'name' in f ? 'name' : undefined;
  const name = (nameField ? text(f[nameField]) : null) ?? e.key ?? null;
  if (!name) {
    problem(undefined, 'a node needs a nodename');
    return null;
  }
  if (!NODE_NAME_RE.test(name)) {
    problem(nameField, `node "${name}": ${NODE_NAME_MESSAGE}`);
    return null;
  }
  const hostText = text(f.hostname);
  if (!hostText) {
    problem('hostname' in f ? 'hostname' : undefined, `node "${name}" needs a hostname`);
    return null;
  }
  const hp = splitHostPort(hostText);
  if (!hp || !HOSTNAME_RE.test(hp.hostname)) {
    problem(
      'hostname',
      `node "${name}": hostname ${JSON.stringify(hostText)}: ${HOSTNAME_MESSAGE} (host or host:port)`,
    );
    return null;
  }
  let username: string | null = null;
  if (f.username !== undefined && f.username !== null && f.username !== '') {
    const u = text(f.username);
    if (!u || !LOGIN_USER_RE.test(u)) {
      problem(
        'username',
        `node "${name}": username ${JSON.stringify(f.username)}: ${USER_MESSAGE}`,
      );
      return null;
    }
    username = u;
  }
  const tags: string[] = [];
  const rawTags = f.tags;
  const tagList = Array.isArray(rawTags)
    ? rawTags.map(text)
    : typeof rawTags === 'string'
      ? rawTags.split(',')
      : rawTags === undefined || rawTags === null
        ? []
        : [null];
  for (const t of tagList) {
    if (t === null) {
      problem('tags', `node "${name}": tags are a comma-separated string or a list of strings`);
      return null;
    }
    const tag = t.trim();
    if (!tag) continue;
    if (!TAG_RE.test(tag)) {
      problem('tags', `node "${name}": tag "${tag}": ${TAG_MESSAGE}`);
      return null;
    }
    if (!tags.includes(tag)) tags.push(tag);
  }

  let connection: 'ssh' | 'local' = 'ssh';
  const attributes: Record<string, string> = {};
  const skip = (attribute: string, reason: string) =>
    notImported.push({ node: name, attribute, reason });
  for (const [k, v] of Object.entries(f)) {
    if (['nodename', 'name', 'hostname', 'username', 'tags'].includes(k)) continue;
    // The list form of resource-yaml-v13 writes `- NAME:` above the entry's keys: a null key.
    if (k === name && (v === null || v === undefined)) continue;
    if (k === 'node-executor' || k === 'file-copier') {
      const provider = text(v) ?? '';
      if (k === 'node-executor' && LOCAL_PROVIDERS.includes(provider)) connection = 'local';
      else if (!SSH_PROVIDERS.includes(provider) && !LOCAL_PROVIDERS.includes(provider))
        skip(
          k,
          `${k} "${provider}" is not converted: Firebreak reaches nodes over SSH (or runs on its own host)`,
        );
      continue;
    }
    if (CREDENTIAL_ATTRS.test(k)) {
      skip(
        k,
        'a credential reference: credentials are not imported; create a credential (POST /credentials) and set it on the node',
      );
      continue;
    }
    if (k in NOT_ATTRIBUTES) {
      skip(k, NOT_ATTRIBUTES[k]);
      continue;
    }
    const value = text(v);
    if (value === null) skip(k, 'not a string value');
    else if (!ATTRIBUTE_KEY_RE.test(k)) skip(k, 'not a valid attribute name');
    else if (value.length > MAX_ATTRIBUTE_VALUE)
      skip(k, `longer than ${MAX_ATTRIBUTE_VALUE} characters`);
    else attributes[k] = value;
  }
  return { name, hostname: hp.hostname, port: hp.port, username, tags, attributes, connection };
}

/** `host`, `host:2222`, `[::1]:2222`, `::1` (a bare IPv6 address has no port). */
function splitHostPort(s: string): { hostname: string; port: number } | null {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(s);
  if (v6) return withPort(`[${v6[1]}]`, v6[2]);
  const colons = s.split(':').length - 1;
  if (colons === 1) {
    const [h, p] = s.split(':');
    return withPort(h, p);
  }
  return { hostname: s, port: 22 };
}

function withPort(hostname: string, port: string | undefined) {
  if (port === undefined) return { hostname, port: 22 };
  const n = Number(port);
  return /^\d+$/.test(port) && n >= 1 && n <= 65535 ? { hostname, port: n } : null;
}

/** YAML (and JSON, a subset of YAML 1.2): a map of names to entries, or a list of entries. */
function yamlEntries(text: string, file: string, problems: InventoryProblem[]): Entry[] {
  const loaded = loadYamlSource(file, text, MAX_BYTES);
  if (!loaded.ok) {
    problems.push(...loaded.problems);
    return [];
  }
  const { data, locate } = loaded;
  const notList = () =>
    problems.push({
      file,
      path: '',
      line: 1,
      col: 1,
      message:
        'a Rundeck node list is a map of node names to node entries, or a list of node entries',
    });
  const entry = (path: PathKey[], fields: unknown, key?: string): Entry | null => {
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
      const at = key !== undefined ? locate.at([], key) : locate.at(path);
      problems.push({
        file,
        path: path.map(String).join('.'),
        ...at,
        message: `node ${key ?? `[${String(path[0])}]`}: a node entry is a map (nodename, hostname, …)`,
      });
      return null;
    }
    return {
      key,
      fields: fields as Record<string, unknown>,
      path,
      at: (field) =>
        field ? locate.at(path, field) : key !== undefined ? locate.at([], key) : locate.at(path),
    };
  };
  if (Array.isArray(data)) return data.flatMap((e, i) => entry([i], e) ?? []);
  if (data !== null && typeof data === 'object')
    return Object.entries(data as Record<string, unknown>).flatMap(
      ([k, e]) => entry([k], e, k) ?? [],
    );
  notList();
  return [];
}

/** resource-v13 XML: `<project>` holding `<node …/>` elements, each with optional `<attribute>`s. */
function xmlEntries(text: string, file: string, problems: InventoryProblem[]): Entry[] {
  if (Buffer.byteLength(text) > MAX_BYTES) {
    problems.push({
      file,
      path: '',
      line: 1,
      col: 1,
      message: `file is larger than ${MAX_BYTES / 1024} KiB`,
    });
    return [];
  }
  const parser = new SaxesParser({ position: true });
  const entries: Entry[] = [];
  const stack: string[] = [];
  let tagStart = { line: 1, col: 1 };
  let current: {
    fields: Record<string, unknown>;
    where: { line: number; col: number };
    index: number;
  } | null = null;
  let attribute: { name: string; value?: string; text: string } | null = null;
  let failed = false;
  const problem = (message: string, at = { line: parser.line, col: parser.column + 1 }) => {
    if (!failed) problems.push({ file, path: stack.join('.'), ...at, message });
    failed = true;
  };
  parser.on('error', (err) => problem(`XML: ${err.message.replace(/^.*?:\d+:\d+: /, '')}`));
  // Where the tag's `<` is (the parser is past its name by then, maybe on the next line).
  parser.on('opentagstart', () => {
    const lt = text.lastIndexOf('<', parser.position - 1);
    const before = text.slice(0, Math.max(lt, 0));
    const nl = before.lastIndexOf('\n');
    tagStart = { line: before.split('\n').length, col: before.length - nl };
  });
  parser.on('opentag', (tag) => {
    const parent = stack[stack.length - 1];
    stack.push(tag.name);
    const attrs = tag.attributes as Record<string, string>;
    if (parent === undefined) {
      if (tag.name !== 'project')
        problem(`expected a <project> of <node> elements, not <${tag.name}>`, tagStart);
    } else if (parent === 'project' && tag.name === 'node') {
      current = { fields: { ...attrs }, where: tagStart, index: entries.length };
    } else if (parent === 'node' && tag.name === 'attribute') {
      if (!attrs.name) problem('an <attribute> needs a name', tagStart);
      attribute = { name: attrs.name, value: attrs.value, text: '' };
    } else {
      problem(`unexpected <${tag.name}> in <${parent}>`, tagStart);
    }
  });
  parser.on('text', (t) => {
    if (attribute) attribute.text += t;
  });
  parser.on('closetag', (tag) => {
    stack.pop();
    if (tag.name === 'attribute' && attribute && current) {
      current.fields[attribute.name] = attribute.value ?? attribute.text.trim();
      attribute = null;
    } else if (tag.name === 'node' && current) {
      const c: {
        fields: Record<string, unknown>;
        where: { line: number; col: number };
        index: number;
      } = current;
      entries.push({ fields: c.fields, path: [c.index], at: () => c.where });
      current = null;
    }
  });
  try {
    parser.write(text).close();
  } catch (e) {
    problem(`XML: ${(e as Error).message}`);
  }
  if (!failed && stack.length === 0 && entries.length === 0 && !/<project/.test(text))
    problem('expected a <project> of <node> elements', { line: 1, col: 1 });
  return failed ? [] : entries;
}
