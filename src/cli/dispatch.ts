/**
 * The command table and its one dispatcher. Every `firebreak` command is an entry: a group
 * (`runbooks list|show|…`: one parseArgs for its flags, then the sub-command), a leaf (`plan`,
 * `approve`: parsed here, then run) or a command that parses its own words (`login`, `import`),
 * which still declares its flags here. `firebreak completion` reads the same table
 * (completion.ts), so what it offers is what the dispatcher accepts.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { Server } from './api.js';
import { CliError, EXIT } from './errors.js';
import { makeOut, type Out } from './output.js';

export type ServerOf = (values: { url?: string; token?: string }, env: NodeJS.ProcessEnv) => Server;

/** The flags most commands that talk to a server take. */
export const COMMON = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

type Values<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>
>['values'];

/** What a parsed command is given. */
export interface Ctx<V> {
  values: V;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  /** The server and token (--url/--token, FIREBREAK_URL/FIREBREAK_TOKEN, the stored login). */
  server(): Server;
  /** stdout, as a table or (with --json) the API's JSON. */
  out: Out;
}

type Run<V> = (ctx: Ctx<V>) => Promise<number> | number;

/** What the completion may offer for a command's next word once the sub-command is given. */
export type Completes = 'runbook' | 'files';

export interface Command {
  /** Flags as parseArgs takes them; completion offers `--long` and `-s` for each. */
  readonly options: ParseArgsOptionsConfig;
  /** Sub-command names (completion offers them as the second word). */
  readonly subs: readonly string[];
  readonly completes?: Completes;
  /** Sub-commands whose next word is a runbook name (`runbooks show NAME`). */
  readonly runbookAfter?: readonly string[];
  readonly run: (argv: string[], env: NodeJS.ProcessEnv, server: ServerOf) => Promise<number>;
}

/** Every leaf and group also takes --help (-h): its usage on stdout, exit 0. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies ParseArgsOptionsConfig;

function parse<O extends ParseArgsOptionsConfig>(
  options: O,
  argv: string[],
  env: NodeJS.ProcessEnv,
  server: ServerOf,
): Ctx<Values<O>> & { help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...options, ...HELP },
  });
  const v = values as Values<O> & { url?: string; token?: string; json?: boolean; help?: boolean };
  return {
    values: v,
    positionals,
    env,
    server: () => server(v, env),
    out: makeOut(Boolean(v.json), env),
    help: Boolean(v.help),
  };
}

function printUsage(usage: string): number {
  process.stdout.write(`${usage}\n`);
  return EXIT.ok;
}

/** A command without sub-commands: its flags are parsed, positionals passed on. */
export function leaf<const O extends ParseArgsOptionsConfig>(
  usage: string,
  options: O,
  run: Run<Values<O>>,
  extra: { completes?: Completes } = {},
): Command {
  return {
    options: { ...options, ...HELP },
    subs: [],
    ...extra,
    run: async (argv, env, server) => {
      const ctx = parse(options, argv, env, server);
      return ctx.help ? printUsage(usage) : run(ctx);
    },
  };
}

/**
 * A group: `firebreak GROUP SUB [ARGS]`, one set of flags for all its sub-commands; an unknown
 * or missing sub-command is a usage error (exit 2) with the group's usage line.
 */
export function group<const O extends ParseArgsOptionsConfig>(
  usage: string,
  options: O,
  subs: Record<string, Run<Values<O>>>,
  extra: { runbookAfter?: readonly string[] } = {},
): Command {
  return {
    options: { ...options, ...HELP },
    subs: Object.keys(subs),
    ...extra,
    run: async (argv, env, server) => {
      if (argv[0] === '--help' || argv[0] === '-h') return printUsage(usage);
      const [sub, ...rest] = argv;
      const ctx = parse(options, rest, env, server);
      if (ctx.help) return printUsage(usage);
      const handler = sub !== undefined && Object.hasOwn(subs, sub) ? subs[sub] : undefined;
      if (!handler) throw new CliError(EXIT.usage, usage);
      return handler(ctx);
    },
  };
}

/** A command that reads its own words (its own usage and errors); `options` is what it takes. */
export function own(
  options: ParseArgsOptionsConfig,
  run: Command['run'],
  extra: { subs?: readonly string[]; completes?: Completes } = {},
): Command {
  return { options, subs: extra.subs ?? [], completes: extra.completes, run };
}

/** `--long` for every flag, and `-s` for one with a short form. */
export function flagsOf(command: Command): string[] {
  return Object.entries(command.options).flatMap(([long, o]) =>
    o.short ? [`-${o.short}`, `--${long}`] : [`--${long}`],
  );
}
