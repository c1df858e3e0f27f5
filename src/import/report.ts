/**
 * What every importer (`firebreak import …`, `POST /runbooks/import`) returns: the files it would
 * write and a report of what converted, what did not and why, each with its source file and line.
 * Nothing is silently dropped: every part of the input the importer does not turn into Firebreak
 * form appears here as a `skipped` or `error` entry.
 */

/** Where in the input a finding comes from (1-based line, like `firebreak lint`). */
export interface SourceRef {
  file: string;
  line?: number;
  /** The key or element, e.g. `jobs[2].sequence.commands[1]` or `<option name="x">`. */
  path?: string;
}

export type FindingLevel =
  /** Turned into Firebreak form as it was. */
  | 'converted'
  /** Converted, but not exactly: the message says what differs. */
  | 'changed'
  /** Not converted (a plugin step, a notification, a Jinja block…): the message says why. */
  | 'skipped'
  /** The input is wrong (does not parse, not a list, unknown key): nothing is written. */
  | 'error';

export interface Finding {
  level: FindingLevel;
  source: SourceRef;
  /** What the finding is about: a job, an option, a step, a node. */
  subject: string;
  message: string;
}

export interface ImportedFile {
  /** Relative to the output directory, e.g. `ops/restart-service.yaml`. */
  path: string;
  content: string;
  /** The runbook or node name the file holds. */
  name: string;
}

export interface ImportResult {
  /** Runbook files to write (empty for node imports, which go to the database). */
  files: ImportedFile[];
  findings: Finding[];
}

export function hasErrors(result: Pick<ImportResult, 'findings'>): boolean {
  return result.findings.some((f) => f.level === 'error');
}

/** One line per finding, `file:line: level subject: message`, in input order. */
export function formatReport(result: Pick<ImportResult, 'findings'>): string {
  return result.findings
    .map((f) => {
      const where =
        f.source.line === undefined ? f.source.file : `${f.source.file}:${f.source.line}`;
      return `${where}: ${f.level} ${f.subject}: ${f.message}`;
    })
    .join('\n');
}
