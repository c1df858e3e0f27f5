import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions, type MigrationInterface } from 'typeorm';

type MigrationClass = new () => MigrationInterface;

/** Compiled migrations next to the compiled app: dist/migrations/*.js. */
export const COMPILED_MIGRATIONS = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../migrations/*.js',
);

/**
 * Every compiled entity, dist/src/<module>/*.entity.js, for data sources opened outside Nest (the
 * migration CLI). In the app each module registers its own with TypeOrmModule.forFeature.
 */
export const COMPILED_ENTITIES = join(dirname(fileURLToPath(import.meta.url)), '../**/*.entity.js');

/**
 * One description of the database for the app, the migration CLI and the tests. `synchronize`
 * is never on: the schema changes only through migrations/. `entities` defaults to every
 * compiled entity; the app passes none and auto-loads the modules' own.
 */
export function dataSourceOptions(
  url: string,
  migrations: Array<string | MigrationClass> = [COMPILED_MIGRATIONS],
  extra: Partial<{
    poolSize: number;
    applicationName: string;
    entities: NonNullable<DataSourceOptions['entities']>;
  }> = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: extra.entities ?? [COMPILED_ENTITIES],
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
