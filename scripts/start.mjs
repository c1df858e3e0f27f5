// `npm start`: build the service and the web console if needed, then run the service in this same process (so Ctrl-C and
// SIGTERM reach it directly).
import { buildIfNeeded } from './build-if-needed.mjs';

buildIfNeeded({ console: true });
await import('../dist/src/main.js');
