import { getMetadataArgsStorage } from 'typeorm';

type EntityClass = abstract new (...args: never[]) => unknown;

/**
 * Every entity class, for data sources the tests open outside Nest: found by file name like the
 * compiled glob (dist/src/**\/*.entity.js), but imported through Vite, so that they are the very
 * classes the app under test registers. TypeORM's own glob cannot load TypeScript sources.
 */
export function entityClasses(): EntityClass[] {
  const modules = import.meta.glob<Record<string, unknown>>('../../src/**/*.entity.ts', {
    eager: true,
  });
  const tables = new Set(getMetadataArgsStorage().tables.map((t) => t.target));
  return Object.keys(modules)
    .sort()
    .flatMap((file) => Object.values(modules[file]))
    .filter((v): v is EntityClass => typeof v === 'function' && tables.has(v));
}
