import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A published sample payload from test/fixtures/alerts/ (see the README there for sources). */
export function fixture(name: string): Buffer {
  return readFileSync(
    fileURLToPath(new URL(`../../../test/fixtures/alerts/${name}`, import.meta.url)),
  );
}

export const fixtureJson = <T = Record<string, unknown>>(name: string): T =>
  JSON.parse(fixture(name).toString('utf8')) as T;
