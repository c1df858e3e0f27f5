import pino from 'pino';
import type { AppConfig } from '../config/config.js';

/** The logger used before Nest is up (config, embedded database, migrations). Same format. */
export function bootLogger(config: AppConfig) {
  return pino({
    level: config.logLevel,
    base: { context: 'Boot' },
    ...(config.logPretty
      ? { transport: { target: 'pino-pretty', options: { singleLine: true } } }
      : {}),
  });
}
