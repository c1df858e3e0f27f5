/**
 * The `firebreak` command line.
 *
 *   firebreak lint [FILES|DIRS…]                 check runbooks; file:line:col per problem
 *   firebreak plan NAME [-o key=value…] [--node name[:attr=value,…]…] [--json]
 *
 *   firebreak run NAME [-o key=value…] [--node NAME…] [--follow] [--break-glass REASON]
 *                                                                   start an execution
 *   firebreak tail EXECUTION_ID                                     follow its live output
 *
 * `plan`, `run` and `tail` talk to a running server: --url / FIREBREAK_URL (default http://127.0.0.1:3000) and
 * --token / FIREBREAK_TOKEN (a personal API token from POST /auth/tokens).
 */
import { parseArgs } from 'node:util';
import { formatProblem, lintPaths } from './lint.js';
import { followExecution } from './sse.js';
import { importCommand } from './import.js';

const USAGE = `usage:
  firebreak lint [FILES|DIRS...]
  firebreak run NAME [-o key=value ...] [--node NAME ...] [--follow] [--break-glass REASON]
  firebreak tail EXECUTION_ID
  firebreak plan NAME [-o key=value ...] [--node NAME[:attr=value,...] ...] [--version N] [--json]
      [--url URL] [--token TOKEN]    (or FIREBREAK_URL, FIREBREAK_TOKEN)
  firebreak import KIND FILE... [-o DIR] [--dry-run] [--force] [--json]   (firebreak import --help)`;

async function lint(args: string[]): Promise<number> {
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

async function plan(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      option: { type: 'string', short: 'o', multiple: true },
      node: { type: 'string', multiple: true },
      version: { type: 'string' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
  });
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new Error('plan needs exactly one runbook NAME');
  const url = (values.url ?? env.FIREBREAK_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
  const token = values.token ?? env.FIREBREAK_TOKEN;
  if (!token) throw new Error('set FIREBREAK_TOKEN (or --token) to a personal API token');
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
    process.stderr.write(
      `firebreak: ${res.status} ${payload.code ?? ''}: ${payload.message ?? ''}\n`,
    );
    return 1;
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
}

function server(values: { url?: string; token?: string }, env: NodeJS.ProcessEnv) {
  const url = (values.url ?? env.FIREBREAK_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
  const token = values.token ?? env.FIREBREAK_TOKEN;
  if (!token) throw new Error('set FIREBREAK_TOKEN (or --token) to a personal API token');
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

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      option: { type: 'string', short: 'o', multiple: true },
      node: { type: 'string', multiple: true },
      follow: { type: 'boolean', short: 'f' },
      'break-glass': { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
  });
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new Error('run needs exactly one runbook NAME');
  const breakGlass = values['break-glass'];
  const { url, token } = server(values, env);
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
    process.stderr.write(
      `firebreak: ${res.status} ${payload.code ?? ''}: ${payload.message ?? ''}\n`,
    );
    return 1;
  }
  process.stderr.write(`execution ${payload.id}: ${payload.status ?? 'queued'}\n`);
  if (!values.follow) {
    process.stdout.write(`${payload.id}\n`);
    return 0;
  }
  return follow(url, token, payload.id!);
}

async function tail(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new Error('tail needs one EXECUTION_ID');
  const { url, token } = server(values, env);
  return follow(url, token, positionals[0]);
}

export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'lint') return await lint(rest);
    if (command === 'plan') return await plan(rest, env);
    if (command === 'run') return await run(rest, env);
    if (command === 'tail') return await tail(rest, env);
    if (command === 'import') return await importCommand(rest, env, server);
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
  } catch (err) {
    process.stderr.write(`firebreak: ${(err as Error).message}\n`);
    return 2;
  }
}
