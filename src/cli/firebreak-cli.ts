/**
 * The `firebreak` command line (USAGE below is what `firebreak --help` prints).
 *
 * Commands that talk to a server take --url / FIREBREAK_URL (else the server of the last
 * `firebreak login`, else http://127.0.0.1:3000) and --token / FIREBREAK_TOKEN, else the token
 * `firebreak login` stored for that URL (credentials.ts). Exit codes: errors.ts.
 */
import { followExecution } from './sse.js';
import { IMPORT_KINDS, IMPORT_OPTIONS, importCommand } from './import.js';
import { approve, executions, incidents, reject, runbooks } from './commands.js';
import { completion, SHELLS, type CommandTable } from './completion.js';
import { readCredentials } from './credentials.js';
import { leaf, own } from './dispatch.js';
import { CliError, EXIT, describeHttpError, exitCodeForStatus } from './errors.js';
import {
  login,
  LOGIN_OPTIONS,
  logout,
  LOGOUT_OPTIONS,
  serverUrl,
  whoami,
  WHOAMI_OPTIONS,
} from './login.js';

export const USAGE = `usage: firebreak COMMAND [ARGS] [--json] [--url URL] [--token TOKEN]

sign in (a named, expiring API token stored 0600 under $XDG_CONFIG_HOME/firebreak/):
  firebreak login [--url URL] [--username U] [--password-stdin] [--name NAME] [--expires 30d]
  firebreak logout [--url URL]                  revoke the stored token and forget it
  firebreak whoami

runbooks and runs:
  firebreak lint [FILES|DIRS...]
  firebreak runbooks list [--search TEXT] [--tag T] [--kind K] | show NAME | versions NAME
                   | diff NAME [--from V --to V]
  firebreak plan NAME [-o key=value ...] [--node NAME[:attr=value,...] ...] [--version N]
  firebreak run NAME [-o key=value ...] [--node NAME ...] [--follow] [--break-glass REASON]
  firebreak tail EXECUTION_ID
  firebreak import KIND FILE... [-o DIR] [--dry-run] [--force] [--json]   (firebreak import --help)
  firebreak executions list [--status S] [--runbook R] [--actor U] [--limit N] | show ID
  firebreak approve ID [--comment TEXT] [--choice C]
  firebreak reject ID --comment TEXT

incidents:
  firebreak incidents list [--status S] [--severity SEV] | show REF
  firebreak incidents declare --title T --severity SEV1|SEV2|SEV3|SEV4 [--summary S]
  firebreak incidents note REF TEXT
  firebreak incidents status REF STATUS [--note TEXT]

  firebreak completion bash|zsh|fish            print a shell completion script

Tables by default (no colour when not a terminal or NO_COLOR is set); --json prints the API's JSON.
Server: --url / FIREBREAK_URL, else the last login's, else http://127.0.0.1:3000.
Token: --token / FIREBREAK_TOKEN, else the one \`firebreak login\` stored for that server.

exit codes:
  0 ok   1 failed (a run did not succeed, lint problems)   2 usage or input refused (400)
  3 not authenticated or forbidden (401/403)   4 not found (404)
  5 refused in this state (409 conflict, 423 change freeze, 429)   6 server unreachable or 5xx`;

async function lint(args: string[]): Promise<number> {
  // Loaded only here: the runbook parser is most of the CLI's start-up time.
  const { formatProblem, lintPaths } = await import('./lint.js');
  const result = await lintPaths(args);
  for (const p of result.problems) process.stdout.write(`${formatProblem(p)}\n`);
  process.stderr.write(
    `${result.files} file${result.files === 1 ? '' : 's'}, ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}\n`,
  );
  return result.problems.length ? 1 : 0;
}

export function parseOptionArgs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`-o ${pair}: expected key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function parseNodeArg(spec: string) {
  const [name, attrs] = spec.split(/:(.*)/s, 2);
  const attributes: Record<string, string> = {};
  for (const kv of (attrs ?? '').split(',').filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--node ${spec}: expected NAME:attr=value,...`);
    attributes[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { name, attributes };
}

interface PlanResponse {
  runbook: string;
  version: number;
  canRun: boolean;
  disabled: boolean;
  plan: {
    targets: Array<{ name: string }>;
    strategy: string;
    approval: { required: boolean; reasons: string[]; approvers: string[] };
    steps: Array<{
      name: string;
      kind: string;
      when?: { condition: string; decided: string };
      actions: Array<{
        node: string | null;
        skip?: boolean;
        command?: string;
        request?: { method: string; url: string };
      }>;
    }>;
  };
}

const plan = leaf(
  'usage: firebreak plan NAME [-o key=value ...] [--node NAME[:attr=value,...] ...] [--version N]',
  {
    option: { type: 'string', short: 'o', multiple: true },
    node: { type: 'string', multiple: true },
    version: { type: 'string' },
    json: { type: 'boolean' },
    url: { type: 'string' },
    token: { type: 'string' },
  },
  async ({ values, positionals, server }) => {
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new Error('plan needs exactly one runbook NAME');
    const { url, token } = server();
    const body = {
      options: parseOptionArgs(values.option ?? []),
      ...(values.node ? { nodes: values.node.map(parseNodeArg) } : {}),
      ...(values.version ? { version: Number(values.version) } : {}),
    };
    const res = await fetch(`${url}/runbooks/${encodeURIComponent(name)}/plan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const payload = (await res.json()) as PlanResponse & { code?: string; message?: string };
    if (!res.ok) {
      throw new CliError(exitCodeForStatus(res.status), describeHttpError(res.status, payload));
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
      return 0;
    }
    const p = payload.plan;
    const out: string[] = [
      `${payload.runbook} v${payload.version}${payload.disabled ? ' (DISABLED)' : ''}${payload.canRun ? '' : ' (you may not run it)'}`,
      `targets (${p.strategy}): ${p.targets.map((t) => t.name).join(', ') || 'none'}`,
      p.approval.required
        ? `approval required (${p.approval.approvers.join(', ')}):\n  - ${p.approval.reasons.join('\n  - ')}`
        : 'no approval required',
    ];
    for (const s of p.steps) {
      out.push(
        `\n[${s.name}] ${s.kind}${s.when ? `  when ${s.when.condition} → ${s.when.decided}` : ''}`,
      );
      for (const a of s.actions) {
        const where = a.node ? `${a.node}: ` : '';
        if (a.skip) out.push(`  ${where}(skipped)`);
        else if (a.command) out.push(`  ${where}$ ${a.command}`);
        else if (a.request) out.push(`  ${where}${a.request.method} ${a.request.url}`);
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
  { completes: 'runbook' },
);

/**
 * The one place that says which server and token a command uses: --url / FIREBREAK_URL (else the
 * last login's server), and --token / FIREBREAK_TOKEN, else the token `firebreak login` stored
 * for that URL.
 */
export function server(values: { url?: string; token?: string }, env: NodeJS.ProcessEnv) {
  const url = serverUrl(values.url, env);
  const token =
    values.token ?? (env.FIREBREAK_TOKEN || undefined) ?? readCredentials(env).servers[url]?.token;
  if (!token)
    throw new CliError(
      EXIT.auth,
      `not logged in to ${url}: run firebreak login${values.url ? ` --url ${url}` : ''} (or set FIREBREAK_TOKEN)`,
    );
  return { url, token };
}

function printLine(e: { node: string | null; step: string | null; stream: string; line: string }) {
  const where = [e.node, e.step].filter(Boolean).join(' ');
  const text = `${where ? `${where} | ` : ''}${e.stream === 'system' ? '» ' : ''}${e.line}\n`;
  if (e.stream === 'stderr') process.stderr.write(text);
  else process.stdout.write(text);
}

async function follow(url: string, token: string, id: string): Promise<number> {
  const status = await followExecution(url, token, id, printLine);
  process.stderr.write(`execution ${id}: ${status}\n`);
  return status === 'succeeded' ? 0 : 1;
}

const run = leaf(
  'usage: firebreak run NAME [-o key=value ...] [--node NAME ...] [--follow] [--break-glass REASON]',
  {
    option: { type: 'string', short: 'o', multiple: true },
    node: { type: 'string', multiple: true },
    follow: { type: 'boolean', short: 'f' },
    'break-glass': { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
  },
  async ({ values, positionals, server }) => {
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new Error('run needs exactly one runbook NAME');
    const breakGlass = values['break-glass'];
    const { url, token } = server();
    const res = await fetch(`${url}/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        runbook: name,
        options: parseOptionArgs(values.option ?? []),
        via: 'cli',
        ...(values.node ? { nodes: values.node } : {}),
        ...(breakGlass !== undefined ? { breakGlass: { reason: breakGlass } } : {}),
      }),
    });
    const payload = (await res.json()) as {
      id?: string;
      status?: string;
      code?: string;
      message?: string;
    };
    if (!res.ok) {
      throw new CliError(exitCodeForStatus(res.status), describeHttpError(res.status, payload));
    }
    process.stderr.write(`execution ${payload.id}: ${payload.status ?? 'queued'}\n`);
    if (!values.follow) {
      process.stdout.write(`${payload.id}\n`);
      return 0;
    }
    return follow(url, token, payload.id!);
  },
  { completes: 'runbook' },
);

const tail = leaf(
  'usage: firebreak tail EXECUTION_ID',
  { url: { type: 'string' }, token: { type: 'string' } },
  async ({ positionals, server }) => {
    if (positionals.length !== 1) throw new Error('tail needs one EXECUTION_ID');
    const { url, token } = server();
    return follow(url, token, positionals[0]);
  },
);

/**
 * Every command: `firebreak COMMAND …` runs COMMANDS[COMMAND], and `firebreak completion` offers
 * exactly these commands, their sub-commands and their flags.
 */
export const COMMANDS: CommandTable = {
  login: own(LOGIN_OPTIONS, (argv, env) => login(argv, env)),
  logout: own(LOGOUT_OPTIONS, (argv, env) => logout(argv, env)),
  whoami: own(WHOAMI_OPTIONS, whoami),
  lint: own({}, (argv) => lint(argv), { completes: 'files' }),
  plan,
  run,
  tail,
  import: own(IMPORT_OPTIONS, importCommand, { subs: IMPORT_KINDS, completes: 'files' }),
  runbooks,
  executions,
  approve,
  reject,
  incidents,
  completion: own({}, async (argv) => completion(argv, COMMANDS), { subs: SHELLS }),
};

export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command !== undefined && Object.hasOwn(COMMANDS, command))
      return await COMMANDS[command].run(rest, env, server);
    const help =
      command === undefined || command === '--help' || command === '-h' || command === 'help';
    (help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return help ? EXIT.ok : EXIT.usage;
  } catch (err) {
    // A known failure: its message (the server's code, message and field paths). Anything else
    // (a bad flag from parseArgs, a malformed -o) is a usage error. Never a stack trace.
    process.stderr.write(`firebreak: ${(err as Error).message}\n`);
    return err instanceof CliError ? err.exitCode : EXIT.usage;
  }
}
