import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { hasErrors, importRunbooks, writeImport } from '../import/index.js';
import { NODE_IMPORTERS, RUNBOOK_IMPORTERS, type ImportInput } from '../import/kinds.js';
import { formatReport, type Finding, type ImportResult } from '../import/report.js';

/**
 *   firebreak import KIND FILE… [-o DIR] [--dry-run] [--force] [--json]
 *
 * Runbook kinds (`rundeck`, …) are converted here, offline: every produced file is checked with
 * the parser `firebreak lint` uses, existing files are never replaced without --force, and the
 * files are written all or none. Node kinds (`ansible`, …) are sent to the server's import
 * route (--url/--token as for `run`), which owns the inventory. Exit 0, 1 when the report has
 * errors (nothing written), 2 on usage.
 */
/** The kinds `firebreak import` takes (completion offers them as its first word). */
export const IMPORT_KINDS = [...Object.keys(RUNBOOK_IMPORTERS), ...Object.keys(NODE_IMPORTERS)];

export const IMPORT_USAGE = `usage: firebreak import KIND FILE... [-o DIR] [--dry-run] [--force] [--json] [--url URL] [--token TOKEN]
kinds:
${[...Object.values(RUNBOOK_IMPORTERS), ...Object.values(NODE_IMPORTERS)]
  .map((k) => `  ${k.kind.padEnd(14)} ${k.describe}`)
  .join('\n')}`;

type Server = (
  values: { url?: string; token?: string },
  env: NodeJS.ProcessEnv,
) => { url: string; token: string };

class UsageError extends Error {}

export const IMPORT_OPTIONS = {
  out: { type: 'string', short: 'o' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export async function importCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  server: Server,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: IMPORT_OPTIONS,
    });
  } catch (err) {
    process.stderr.write(`firebreak import: ${(err as Error).message}\n${IMPORT_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${IMPORT_USAGE}\n`);
    return 0;
  }
  const [kind, ...paths] = positionals;
  try {
    if (!kind || !paths.length) throw new UsageError('import needs a KIND and at least one FILE');
    if (!RUNBOOK_IMPORTERS[kind] && !NODE_IMPORTERS[kind])
      throw new UsageError(`unknown kind "${kind}"`);
    const inputs: ImportInput[] = [];
    for (const p of paths) {
      const text = await readFile(p, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`${p}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
      });
      inputs.push({ file: p, text });
    }
    if (NODE_IMPORTERS[kind]) {
      if (values['dry-run'] || values.out || values.force)
        throw new UsageError(
          `${kind} imports nodes through the server: -o, --dry-run and --force are for runbook kinds`,
        );
      return await importNodes(kind, inputs, values, env, server);
    }
    return await importFiles(kind, inputs, {
      out: values.out ?? 'runbooks',
      dryRun: Boolean(values['dry-run']),
      force: Boolean(values.force),
      json: Boolean(values.json),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`firebreak import: ${err.message}\n${IMPORT_USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

async function importFiles(
  kind: string,
  inputs: ImportInput[],
  o: { out: string; dryRun: boolean; force: boolean; json: boolean },
): Promise<number> {
  const result = importRunbooks(kind, inputs);
  let written: string[] = [];
  if (!hasErrors(result) && !o.dryRun) {
    const outcome = await writeImport(o.out, result.files, o.force);
    for (const path of outcome.existing)
      result.findings.push({
        level: 'error',
        source: { file: `${o.out}/${path}` },
        subject: 'output',
        message: 'exists; nothing was written (--force replaces existing files)',
      });
    for (const clash of outcome.clashes)
      result.findings.push({
        level: 'error',
        source: { file: o.out },
        subject: 'output',
        message: `runbook ${clash} is already defined there; nothing was written`,
      });
    written = outcome.written;
  }
  print(result, o.json, {
    written,
    directory: o.out,
    dryRun: o.dryRun,
  });
  return hasErrors(result) ? 1 : 0;
}

function print(
  result: ImportResult,
  json: boolean,
  extra: { written: string[]; directory: string; dryRun: boolean },
) {
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          ...extra,
          files: result.files.map((f) => ({ path: f.path, name: f.name })),
          findings: result.findings,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  const report = formatReport(result);
  if (report) process.stdout.write(`${report}\n`);
  const count = (l: Finding['level']) => result.findings.filter((f) => f.level === l).length;
  const summary = `${result.files.length} runbook${result.files.length === 1 ? '' : 's'}; ${count('converted')} converted, ${count('changed')} changed, ${count('skipped')} skipped, ${count('error')} error${count('error') === 1 ? '' : 's'}`;
  const what = hasErrors(result)
    ? 'nothing written'
    : extra.dryRun
      ? `dry run: nothing written (would write to ${extra.directory}/)`
      : `written to ${extra.directory}/: ${extra.written.join(', ')}`;
  process.stderr.write(`${summary}; ${what}\n`);
}

async function importNodes(
  kind: string,
  inputs: ImportInput[],
  values: { url?: string; token?: string; json?: boolean },
  env: NodeJS.ProcessEnv,
  server: Server,
): Promise<number> {
  const importer = NODE_IMPORTERS[kind];
  const { url, token } = server(values, env);
  let failed = false;
  for (const input of inputs) {
    const res = await fetch(`${url}${importer.apiPath}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(importer.body(input)),
    });
    const payload = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      failed = true;
      process.stderr.write(
        `firebreak: ${input.file}: ${res.status} ${JSON.stringify(payload.code ?? '')}: ${JSON.stringify(payload.message ?? '')}\n`,
      );
      continue;
    }
    if (!values.json && Array.isArray(payload.findings)) {
      const text = formatReport(payload as unknown as ImportResult);
      if (text) process.stdout.write(`${text}\n`);
      if (hasErrors(payload as unknown as ImportResult)) failed = true;
    } else process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
  }
  return failed ? 1 : 0;
}
