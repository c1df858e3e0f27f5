import type { RunbookImporter } from '../kinds.js';
import { convertStackstorm } from './stackstorm.js';

export const stackstormImporter: RunbookImporter = {
  kind: 'stackstorm',
  describe:
    'StackStorm actions (shell command and script runners; name their entry points too): each becomes a runbook',
  convert: convertStackstorm,
};
