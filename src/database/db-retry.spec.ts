import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

import { freePort } from './embedded-postgres.js';
import { isConnectionError } from './db-retry.js';

async function connectError(config: pg.ClientConfig): Promise<unknown> {
  const client = new pg.Client({ ...config, user: 'x', password: 'y', database: 'z' });
  return client.connect().then(
    () => new Error('connected'),
    (e: unknown) => e,
  );
}

describe('isConnectionError', () => {
  it('a server that is not there: refused on TCP, no socket file on a Unix socket', async () => {
    const tcp = await connectError({ host: '127.0.0.1', port: await freePort() });
    expect((tcp as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(isConnectionError(tcp)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-sock-'));
    try {
      const unix = await connectError({ host: dir, port: 5432 });
      expect((unix as Error).message).toMatch(/connect ENOENT/);
      expect(isConnectionError(unix)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a statement the database refused is not one', () => {
    const refused = Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' });
    expect(isConnectionError(refused)).toBe(false);
    expect(isConnectionError(Object.assign(new Error('open /x'), { code: 'ENOENT' }))).toBe(false);
  });
});
