// `npm run migration:run | migration:revert | migration:show | migration:generate -- Name`
import { buildIfNeeded } from './build-if-needed.mjs';

buildIfNeeded();
await import('../dist/src/database/migration-cli.js');
