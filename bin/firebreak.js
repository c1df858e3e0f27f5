#!/usr/bin/env node
// The `firebreak` CLI (`npx firebreak lint runbooks/`). Builds the project first if needed.
import { buildIfNeeded } from '../scripts/build-if-needed.mjs';

buildIfNeeded();
await import('../dist/src/cli/main.js');
