import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { createApp } from './app.js';
import { UsersService } from './auth/users.service.js';
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';
import { dataSourceOptions, migrate } from './database/data-source.js';
import { EmbeddedPostgres } from './database/embedded-postgres.js';
import { bootLogger } from './observability/boot-logger.js';
import { installProcessHandlers } from './observability/process-handlers.js';
import { runtimeInfo } from './observability/runtime.js';

/** Past the drain grace: time to stop and record interrupted runs before the force exit. */
const FORCE_EXIT_MARGIN_SECONDS = 15;

/**
 * `npm start`: validate config → start the embedded Postgres (when no DATABASE_URL) → migrate
 * under a lock → serve. SIGINT/SIGTERM close the server, then the database, so Ctrl-C leaves no
 * postgres process behind.
 */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`firebreak: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = bootLogger(config);
  installProcessHandlers(log);
  const started = Date.now();
  if (config.secretKeySource === 'generated')
    log.info(`generated a new SECRET_KEY in ${config.dataDir}/secret.key (0600)`);

  let embedded: EmbeddedPostgres | undefined;
  let shuttingDown = false;
  const stopEmbedded = async () => embedded?.stop();
  const onSignalDuringBoot = () => {
    shuttingDown = true;
    void stopEmbedded().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignalDuringBoot);
  process.once('SIGTERM', onSignalDuringBoot);

  try {
    if (!config.databaseUrl) {
      embedded = await EmbeddedPostgres.start({
        dataDir: config.dataDir,
        port: config.embeddedPostgresPort,
        log: (level, msg) => (level === 'debug' ? log.debug(msg) : log[level](msg)),
      });
    }
    const databaseUrl = config.databaseUrl ?? embedded!.url;
    const ds = new DataSource(
      dataSourceOptions(databaseUrl, undefined, {
        poolSize: 2,
        applicationName: 'firebreak-migrate',
      }),
    );
    await ds.initialize();
    try {
      const applied = await migrate(ds);
      if (applied.length) log.info(`applied migrations: ${applied.join(', ')}`);
    } finally {
      await ds.destroy();
    }
    if (shuttingDown) return;

    const app = await createApp({ config, databaseUrl });
    const admin = await app.get(UsersService).ensureInitialAdmin(config.adminPassword);
    process.removeListener('SIGINT', onSignalDuringBoot);
    process.removeListener('SIGTERM', onSignalDuringBoot);
    // A worker drains first (ExecutionsProcessor): no new work, DRAIN_GRACE for running
    // executions, then it interrupts what is left and records it. The force exit leaves time
    // for that last part; docker-compose's stop_grace_period is longer still.
    const shutdown = (signal: string) => {
      log.info(
        `${signal}: shutting down${config.role === 'api' ? '' : ` (running executions get ${config.drainGraceSeconds} s to finish)`}`,
      );
      const force = setTimeout(
        () => {
          log.error(`${signal}: shutdown did not complete in time; exiting`);
          process.exit(1);
        },
        (config.drainGraceSeconds + FORCE_EXIT_MARGIN_SECONDS) * 1000,
      );
      force.unref();
      void app
        .close()
        .then(stopEmbedded)
        .then(
          () => process.exit(0),
          (err) => {
            log.error(`shutdown failed: ${(err as Error).message}`);
            process.exit(1);
          },
        );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));

    await app.listen(config.port, config.host);
    const runtime = runtimeInfo();
    log.info(
      `Firebreak listening on ${config.publicUrl} (role ${config.role}, ${embedded ? 'embedded Postgres' : 'DATABASE_URL'}, ${config.redisUrl ? 'Redis queue' : 'in-process queue'}, Node ${runtime.node}${runtime.sshNativeCrypto ? '' : ', ssh2 without its native crypto binding'}) in ${Date.now() - started} ms`,
    );
    if (config.role !== 'worker') process.stdout.write(`\n  Web console: ${config.publicUrl}/\n`);
    if (admin.created && admin.password) {
      // Printed once, to the terminal only, never to the structured log.
      process.stdout.write(
        `\n  First start: created user "admin" with password\n\n      ${admin.password}\n\n  Sign in at ${config.publicUrl}/ (the web console) and change it (PATCH /users/:id).\n\n`,
      );
    }
  } catch (err) {
    log.error(`start-up failed: ${(err as Error).message}`);
    await stopEmbedded().catch(() => undefined);
    process.exit(1);
  }
}

void main();
