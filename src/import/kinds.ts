/**
 * The kinds `firebreak import KIND FILE…` and `POST /runbooks/import` know.
 *
 * Runbook kinds are converted here, offline, into runbook files (`RUNBOOK_IMPORTERS`); node kinds
 * are sent to the server's import route, which owns the inventory (`NODE_IMPORTERS`), so the CLI
 * and the API share one code path for each.
 */
import { formatFromName } from '../nodes/rundeck-resources.js';
import type { ImportResult } from './report.js';
import { rundeckImporter } from './rundeck/index.js';
import { stackstormImporter } from './stackstorm/index.js';

export interface ImportInput {
  /** The name the report uses for this input (the path as given on the command line). */
  file: string;
  text: string;
}

export interface RunbookImporter {
  kind: string;
  /** One line for `firebreak import --help`. */
  describe: string;
  convert(inputs: ImportInput[]): ImportResult;
}

export interface NodeImporter {
  kind: string;
  describe: string;
  /** The server route that imports one file of this kind, e.g. `/nodes/import/ansible`. */
  apiPath: string;
  /** The request body for one file. */
  body(input: ImportInput): Record<string, unknown>;
}

export const RUNBOOK_IMPORTERS: Record<string, RunbookImporter> = {
  rundeck: rundeckImporter,
  stackstorm: stackstormImporter,
};

export const NODE_IMPORTERS: Record<string, NodeImporter> = {
  ansible: {
    kind: 'ansible',
    describe: 'an Ansible inventory (INI or YAML): hosts become nodes, groups clusters',
    apiPath: '/nodes/import/ansible',
    body: (input) => ({
      content: input.text,
      format: /\.ya?ml$/i.test(input.file) ? 'yaml' : 'ini',
    }),
  },
  'rundeck-nodes': {
    kind: 'rundeck-nodes',
    describe:
      'a Rundeck resource model (resources.yaml, .xml or .json): nodes with tags and attributes',
    apiPath: '/nodes/import/rundeck',
    body: (input) => ({
      content: input.text,
      format: formatFromName(input.file),
    }),
  },
};
