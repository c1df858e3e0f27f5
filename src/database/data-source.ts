import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions, type MigrationInterface } from 'typeorm';
import { ENTITIES } from './entities.js';

type MigrationClass = new () => MigrationInterface;

/** Compiled migrations next to the compiled app: dist/migrations/*.js. */
export const COMPILED_MIGRATIONS = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../migrations/*.js',
);

/**
 * One description of the database for the app, the migration CLI and the tests. `synchronize`
 * is never on: the schema changes only through migrations/.
 */
export function dataSourceOptions(
  url: string,
  migrations: Array<string | MigrationClass> = [COMPILED_MIGRATIONS],
  extra: Partial<{ poolSize: number; applicationName: string }> = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    // gen_random_uuid() is built into Postgres 13+: no extension to install, no superuser needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrationsRun: false,
    logging: false,
    poolSize: extra.poolSize ?? 10,
    applicationName: extra.applicationName ?? 'firebreak',
  };
}

/** A fixed key for pg_advisory_lock so that processes starting together migrate one at a time. */
const MIGRATION_LOCK = 0x46425231; // 'FBR1'

/** Runs pending migrations under an advisory lock; returns the names it applied. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/** The SQL that would bring the database in line with the entities; empty when they agree. */
export async function schemaDrift(
  dataSource: DataSource,
): Promise<{ up: string[]; down: string[] }> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return {
    up: log.upQueries.map((q) => q.query),
    down: log.downQueries.map((q) => q.query),
  };
}
