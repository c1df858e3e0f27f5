import { runCli } from './firebreak-cli.js';

process.exitCode = await runCli(process.argv.slice(2));
