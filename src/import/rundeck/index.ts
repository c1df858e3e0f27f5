import type { RunbookImporter } from '../kinds.js';
import { convertRundeckJobs } from './convert.js';

export const rundeckImporter: RunbookImporter = {
  kind: 'rundeck',
  describe: 'Rundeck job definitions (YAML or XML export): each job becomes a runbook file',
  convert: convertRundeckJobs,
};
