// `npm run schema`: writes docs/runbook.schema.json from the runbook schema in src/ (the one
// source of truth). A test fails when the committed file is out of date.
import { writeFileSync } from 'node:fs';
import { buildIfNeeded } from './build-if-needed.mjs';

buildIfNeeded();
const { runbookJsonSchema } = await import('../dist/src/runbooks/runbook.schema.js');
const file = new URL('../docs/runbook.schema.json', import.meta.url);
writeFileSync(file, JSON.stringify(runbookJsonSchema(), null, 2) + '\n');
console.log(`wrote ${file.pathname}`);
