import type { MigrationInterface } from 'typeorm';

type MigrationClass = new () => MigrationInterface;

/**
 * The TypeScript migrations as classes. The app loads the compiled ones from dist/; under
 * vitest the sources are imported through Vite instead, so tests need no build.
 */
export function migrationClasses(): MigrationClass[] {
  const modules = import.meta.glob<Record<string, unknown>>('../../migrations/*.ts', {
    eager: true,
  });
  return Object.keys(modules)
    .sort()
    .flatMap((file) =>
      Object.values(modules[file]).filter((v): v is MigrationClass => typeof v === 'function'),
    );
}
