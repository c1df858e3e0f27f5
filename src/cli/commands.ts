/**
 * The read-and-decide commands: runbooks, executions, approve/reject, incidents, as entries of
 * the command table (dispatch.ts). Each prints an aligned table (or key: value lines) by default
 * and the API's own JSON with --json.
 */
import { request } from './api.js';
import { COMMON, group, leaf, type Command } from './dispatch.js';
import { CliError, EXIT } from './errors.js';
import { age, fields, printJson, table, type Out } from './output.js';

const enc = encodeURIComponent;

function one(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) throw new CliError(EXIT.usage, `${usage} needs one ${what}`);
  return positionals[0];
}

function printJsonOk(out: Out, value: unknown): number {
  printJson(out, value);
  return EXIT.ok;
}

interface RunbookSummary {
  name: string;
  kind: string;
  description: string;
  tags: string[];
  currentVersion: number;
  disabled: boolean;
  disabledReason: string | null;
  updatedAt: string;
  canRun: boolean;
}

interface RunbookDetail extends RunbookSummary {
  version: {
    version: number;
    author: string;
    createdAt: string;
    sourceKind: string;
    sourcePath: string | null;
    source: string;
    definition: {
      options?: Array<{
        name: string;
        type: string;
        required?: boolean;
        default?: unknown;
        secure?: boolean;
        description?: string;
      }>;
      steps?: Array<{ name: string }>;
      targets?: unknown;
    };
  };
}

export const runbooks: Command = group(
  'usage: firebreak runbooks list|show NAME|versions NAME|diff NAME [--from V --to V]',
  {
    ...COMMON,
    search: { type: 'string', short: 'q' },
    tag: { type: 'string' },
    kind: { type: 'string' },
    'include-disabled': { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
  },
  {
    list: async ({ values, positionals, server, out }) => {
      if (positionals.length)
        throw new CliError(EXIT.usage, 'runbooks list takes no NAME (use --search)');
      const q = new URLSearchParams();
      if (values.search) q.set('q', values.search);
      if (values.tag) q.set('tag', values.tag);
      if (values.kind) q.set('kind', values.kind);
      if (values['include-disabled']) q.set('includeDisabled', 'true');
      const rows = await request<RunbookSummary[]>(
        server(),
        'GET',
        `/runbooks${q.size ? `?${q}` : ''}`,
      );
      if (out.json) return printJsonOk(out, rows);
      table(
        out,
        rows,
        [
          ['NAME', (r) => r.name],
          ['KIND', (r) => r.kind],
          ['VERSION', (r) => r.currentVersion],
          ['RUN', (r) => (r.disabled ? 'disabled' : r.canRun ? 'yes' : 'no')],
          ['TAGS', (r) => r.tags],
          ['DESCRIPTION', (r) => r.description],
        ],
        'no runbooks you may see',
      );
      return EXIT.ok;
    },
    show: async ({ positionals, server, out }) => {
      const name = one(positionals, 'runbook NAME', 'runbooks show');
      const r = await request<RunbookDetail>(server(), 'GET', `/runbooks/${enc(name)}`);
      if (out.json) return printJsonOk(out, r);
      fields(out, [
        ['name', r.name],
        ['kind', r.kind],
        ['description', r.description],
        ['tags', r.tags],
        [
          'version',
          `${r.version.version} by ${r.version.author}, ${r.version.createdAt} (${r.version.sourceKind}${r.version.sourcePath ? ` ${r.version.sourcePath}` : ''})`,
        ],
        ['status', r.disabled ? `disabled: ${r.disabledReason ?? ''}` : 'enabled'],
        ['you may run it', r.canRun ? 'yes' : 'no'],
        ['steps', (r.version.definition.steps ?? []).map((st) => st.name)],
      ]);
      const options = r.version.definition.options ?? [];
      if (options.length) {
        out.write('\n');
        table(out, options, [
          ['OPTION', (o) => o.name],
          ['TYPE', (o) => `${o.type}${o.secure ? ' (secure)' : ''}`],
          ['REQUIRED', (o) => (o.required ? 'yes' : 'no')],
          [
            'DEFAULT',
            (o) => (o.secure ? '-' : o.default === undefined ? '-' : JSON.stringify(o.default)),
          ],
          ['DESCRIPTION', (o) => o.description ?? ''],
        ]);
      }
      return EXIT.ok;
    },
    versions: async ({ positionals, server, out }) => {
      const name = one(positionals, 'runbook NAME', 'runbooks versions');
      const rows = await request<
        Array<{
          version: number;
          author: string;
          createdAt: string;
          sourceKind: string;
          sourcePath: string | null;
          contentHash: string;
        }>
      >(server(), 'GET', `/runbooks/${enc(name)}/versions`);
      if (out.json) return printJsonOk(out, rows);
      table(out, rows, [
        ['VERSION', (r) => r.version],
        ['AUTHOR', (r) => r.author],
        ['CREATED', (r) => r.createdAt],
        ['SOURCE', (r) => `${r.sourceKind}${r.sourcePath ? ` ${r.sourcePath}` : ''}`],
        ['HASH', (r) => r.contentHash.slice(0, 12)],
      ]);
      return EXIT.ok;
    },
    diff: async ({ values, positionals, server, out }) => {
      const name = one(positionals, 'runbook NAME', 'runbooks diff');
      const s = server();
      let { from, to } = values;
      if (!from || !to) {
        // Default: the current version against the one before it.
        const current = await request<RunbookSummary>(s, 'GET', `/runbooks/${enc(name)}`);
        to ??= String(current.currentVersion);
        from ??= String(Math.max(1, Number(to) - 1));
      }
      for (const [flag, v] of [
        ['--from', from],
        ['--to', to],
      ] as const)
        if (!/^[1-9]\d{0,8}$/.test(v))
          throw new CliError(EXIT.usage, `${flag} ${v}: expected a version number`);
      const diff = await request<string>(
        s,
        'GET',
        `/runbooks/${enc(name)}/diff?from=${from}&to=${to}`,
      );
      if (out.json)
        return printJsonOk(out, { runbook: name, from: Number(from), to: Number(to), diff });
      out.write(diff.endsWith('\n') || diff === '' ? diff : `${diff}\n`);
      return EXIT.ok;
    },
  },
  { runbookAfter: ['show', 'versions', 'diff'] },
);

interface Execution {
  id: string;
  runbook: string;
  version: number;
  status: string;
  options: Record<string, unknown>;
  targets: string[];
  actor: string;
  trigger: string;
  incidentId: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  results?: Array<{
    step: string;
    node: string | null;
    status: string;
    exitCode: number | null;
    attempt: number;
    durationMs: number | null;
    error: string | null;
  }>;
  approvals?: Array<{
    id: string;
    state: string;
    step?: string;
    approvers?: string[];
    decidedBy?: string | null;
  }>;
}

function duration(e: Execution): string {
  if (!e.startedAt) return '-';
  const ms = Date.parse(e.finishedAt ?? new Date().toISOString()) - Date.parse(e.startedAt);
  return ms < 1000
    ? `${ms}ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${Math.round(ms / 60000)}m`;
}

export const executions: Command = group(
  'usage: firebreak executions list [--status S --runbook R --limit N]|show ID',
  {
    ...COMMON,
    status: { type: 'string' },
    runbook: { type: 'string' },
    actor: { type: 'string' },
    limit: { type: 'string' },
  },
  {
    list: async ({ values, positionals, server, out }) => {
      if (positionals.length)
        throw new CliError(EXIT.usage, 'executions list takes no ID (use executions show ID)');
      const q = new URLSearchParams();
      if (values.status) q.set('status', values.status);
      if (values.runbook) q.set('runbook', values.runbook);
      if (values.actor) q.set('actor', values.actor);
      if (values.limit) q.set('limit', values.limit);
      const rows = await request<Execution[]>(
        server(),
        'GET',
        `/executions${q.size ? `?${q}` : ''}`,
      );
      if (out.json) return printJsonOk(out, rows);
      table(
        out,
        rows,
        [
          ['ID', (r) => r.id],
          ['RUNBOOK', (r) => `${r.runbook} v${r.version}`],
          ['STATUS', (r) => r.status, true],
          ['ACTOR', (r) => r.actor],
          ['TRIGGER', (r) => r.trigger],
          [
            'TARGETS',
            (r) =>
              r.targets.length > 3
                ? `${r.targets.slice(0, 3).join(',')},…(${r.targets.length})`
                : r.targets,
          ],
          ['CREATED', (r) => age(r.createdAt)],
          ['DURATION', (r) => duration(r)],
        ],
        'no executions',
      );
      return EXIT.ok;
    },
    show: async ({ positionals, server, out }) => {
      const id = one(positionals, 'execution ID', 'executions show');
      const e = await request<Execution>(server(), 'GET', `/executions/${enc(id)}`);
      if (out.json) return printJsonOk(out, e);
      fields(out, [
        ['id', e.id],
        ['runbook', `${e.runbook} v${e.version}`],
        ['status', e.status],
        ['actor', `${e.actor} (${e.trigger})`],
        ['targets', e.targets],
        [
          'options',
          Object.entries(e.options).map(
            ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
          ),
        ],
        ['incident', e.incidentId],
        ['created', e.createdAt],
        ['duration', duration(e)],
        ...(e.error ? ([['error', e.error]] as Array<[string, unknown]>) : []),
      ]);
      const pending = (e.approvals ?? []).filter((a) => a.state === 'pending');
      if (pending.length)
        out.write(
          `\nwaiting for approval: firebreak approve ${e.id}  (approvers: ${pending.flatMap((a) => a.approvers ?? []).join(', ') || '-'})\n`,
        );
      if (e.results?.length) {
        out.write('\n');
        table(out, e.results, [
          ['STEP', (r) => r.step],
          ['NODE', (r) => r.node ?? '(local)'],
          ['STATUS', (r) => r.status, true],
          ['EXIT', (r) => r.exitCode],
          ['ATTEMPT', (r) => r.attempt],
          ['MS', (r) => r.durationMs],
          ['ERROR', (r) => r.error ?? ''],
        ]);
      }
      return EXIT.ok;
    },
  },
);

/** `approve ID` and `reject ID --comment TEXT`: one decision on an execution's approval. */
function decision(d: 'approve' | 'reject', usage: string): Command {
  return leaf(
    usage,
    { ...COMMON, comment: { type: 'string', short: 'm' }, choice: { type: 'string' } },
    async ({ values, positionals, server, out }) => {
      const id = one(positionals, 'execution ID', d);
      if (d === 'reject' && !values.comment?.trim())
        throw new CliError(EXIT.usage, 'reject needs --comment saying why');
      const view = await request<{ state: string; step?: string }>(
        server(),
        'POST',
        `/executions/${enc(id)}/approvals`,
        {
          decision: d,
          ...(values.comment ? { comment: values.comment } : {}),
          ...(values.choice ? { choice: values.choice } : {}),
        },
      );
      if (out.json) return printJsonOk(out, view);
      process.stderr.write(
        `execution ${id}: ${d === 'approve' ? 'approved' : 'rejected'} (approval ${view.state})\n`,
      );
      return EXIT.ok;
    },
  );
}

export const approve = decision(
  'approve',
  'usage: firebreak approve ID [--comment TEXT] [--choice C]',
);
export const reject = decision('reject', 'usage: firebreak reject ID --comment TEXT');

interface Incident {
  id: string;
  ref: string;
  title: string;
  severity: string;
  status: string;
  summary: string | null;
  services: string[];
  declaredBy: string;
  declaredAt: string;
  resolvedAt: string | null;
  roles: Array<{ role: string; username: string }>;
}

const INCIDENT_COLUMNS: Array<[string, (r: Incident) => unknown, boolean?]> = [
  ['REF', (r) => r.ref],
  ['SEVERITY', (r) => r.severity, true],
  ['STATUS', (r) => r.status, true],
  ['TITLE', (r) => r.title],
  ['COMMANDER', (r) => r.roles.find((x) => x.role === 'commander')?.username],
  ['DECLARED', (r) => age(r.declaredAt)],
];

export const incidents: Command = group(
  'usage: firebreak incidents list|declare --title T --severity SEV|show REF|note REF TEXT|status REF STATUS',
  {
    ...COMMON,
    title: { type: 'string' },
    severity: { type: 'string' },
    summary: { type: 'string' },
    status: { type: 'string' },
    note: { type: 'string' },
    service: { type: 'string', multiple: true },
    limit: { type: 'string' },
  },
  {
    list: async ({ values, server, out }) => {
      const q = new URLSearchParams();
      if (values.status) q.set('status', values.status);
      if (values.severity) q.set('severity', values.severity);
      if (values.limit) q.set('limit', values.limit);
      const rows = await request<Incident[]>(server(), 'GET', `/incidents${q.size ? `?${q}` : ''}`);
      if (out.json) return printJsonOk(out, rows);
      table(out, rows, INCIDENT_COLUMNS, 'no incidents');
      return EXIT.ok;
    },
    declare: async ({ values, server, out }) => {
      if (!values.title || !values.severity)
        throw new CliError(
          EXIT.usage,
          'incidents declare needs --title T --severity SEV1|SEV2|SEV3|SEV4',
        );
      const inc = await request<Incident>(server(), 'POST', '/incidents', {
        title: values.title,
        severity: values.severity,
        ...(values.summary ? { summary: values.summary } : {}),
        ...(values.service ? { services: values.service } : {}),
      });
      if (out.json) return printJsonOk(out, inc);
      out.write(`${inc.ref}\n`);
      process.stderr.write(`declared ${inc.ref} (${inc.severity}): ${inc.title}\n`);
      return EXIT.ok;
    },
    show: async ({ positionals, server, out }) => {
      const ref = one(positionals, 'incident REF', 'incidents show');
      const inc = await request<Incident>(server(), 'GET', `/incidents/${enc(ref)}`);
      if (out.json) return printJsonOk(out, inc);
      fields(out, [
        ['ref', inc.ref],
        ['title', inc.title],
        ['severity', inc.severity],
        ['status', inc.status],
        ['summary', inc.summary],
        ['services', inc.services],
        ['roles', inc.roles.map((r) => `${r.role}=${r.username}`)],
        ['declared', `${inc.declaredAt} by ${inc.declaredBy}`],
        ['resolved', inc.resolvedAt],
      ]);
      return EXIT.ok;
    },
    note: async ({ positionals, server, out }) => {
      if (positionals.length < 2)
        throw new CliError(EXIT.usage, 'incidents note needs REF and TEXT');
      const [ref, ...words] = positionals;
      const entry = await request(server(), 'POST', `/incidents/${enc(ref)}/notes`, {
        text: words.join(' '),
      });
      if (out.json) return printJsonOk(out, entry);
      process.stderr.write(`note added to ${ref}\n`);
      return EXIT.ok;
    },
    status: async ({ values, positionals, server, out }) => {
      if (positionals.length !== 2)
        throw new CliError(EXIT.usage, 'incidents status needs REF and STATUS');
      const [ref, status] = positionals;
      const inc = await request<Incident>(server(), 'POST', `/incidents/${enc(ref)}/status`, {
        status,
        ...(values.note ? { note: values.note } : {}),
      });
      if (out.json) return printJsonOk(out, inc);
      process.stderr.write(`${inc.ref ?? ref}: ${inc.status ?? status}\n`);
      return EXIT.ok;
    },
  },
);
