/**
 * `npm run migration:run | migration:revert | migration:generate -- Name`, on the compiled app
 * (dist/). Uses the same validated configuration as the service: with DATABASE_URL it talks to
 * that server; without, it starts the embedded Postgres under DATA_DIR for the duration.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/config.js';
import { dataSourceOptions, migrate, schemaDrift } from './data-source.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

function migrationSource(className: string, up: string[], down: string[]): string {
  const q = (s: string) =>
    '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';
  const body = (qs: string[]) => qs.map((s) => `    await queryRunner.query(${q(s)});`).join('\n');
  return `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${body(up)}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${body([...down].reverse())}
  }
}
`;
}

async function main(): Promise<number> {
  const [command, name] = process.argv.slice(2);
  if (!['run', 'revert', 'generate', 'show'].includes(command ?? '')) {
    console.error('usage: migration-cli run | revert | show | generate <PascalCaseName>');
    return 2;
  }
  if (command === 'generate' && !/^[A-Z][A-Za-z0-9]*$/.test(name ?? '')) {
    console.error(
      'migration:generate needs a PascalCase name: npm run migration:generate -- AddIncidents',
    );
    return 2;
  }
  const config = loadConfig();
  const embedded = config.databaseUrl
    ? undefined
    : await EmbeddedPostgres.start({ dataDir: config.dataDir, port: config.embeddedPostgresPort });
  const ds = new DataSource(
    dataSourceOptions(config.databaseUrl ?? embedded!.url, undefined, { poolSize: 2 }),
  );
  try {
    await ds.initialize();
    if (command === 'run') {
      const applied = await migrate(ds);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'no pending migrations');
    } else if (command === 'revert') {
      await ds.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    } else if (command === 'show') {
      const pending = await ds.showMigrations();
      console.log(pending ? 'there are pending migrations' : 'no pending migrations');
    } else {
      await migrate(ds);
      const drift = await schemaDrift(ds);
      if (drift.up.length === 0) {
        console.log('entities and migrations agree: nothing to generate');
        return 0;
      }
      const ts = Date.now();
      const file = resolve(join('migrations', `${ts}-${name}.ts`));
      writeFileSync(file, migrationSource(`${name}${ts}`, drift.up, drift.down));
      console.log(`wrote ${file}: read it before you commit it`);
    }
    return 0;
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`,
    );
    process.exit(1);
  },
);
