import { randomUUID } from 'node:crypto';

import type { DataSource } from 'typeorm';

import { ExecutionResultEntity } from '../src/executions/execution-result.entity.js';
import { ExecutionResultWriter } from '../src/executions/result-writer.js';
import { createTestDatabase, openDataSource, type TestDatabase } from './support/database.js';

// ExecutionResultWriter against real Postgres: batched upserts of step results.

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = await openDataSource(db.url);
});
afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

const rowsOf = (executionId: string) =>
  ds.getRepository(ExecutionResultEntity).find({ where: { executionId }, order: { node: 'ASC' } });

describe('ExecutionResultWriter', () => {
  it('stores a start and its end as one row, and an end after a stored start as an update', async () => {
    const executionId = randomUUID();
    const writer = new ExecutionResultWriter(ds, { flushMs: 10_000 });
    const a = await writer.startStep(executionId, 'uname', 'node-a');
    await writer.finishStep(a, { status: 'succeeded', exitCode: 0, error: null, attempt: 1 });
    const b = await writer.startStep(executionId, 'uname', 'node-b');
    await writer.flush();
    expect((await rowsOf(executionId)).map((r) => [r.node, r.status, r.exitCode])).toEqual([
      ['node-a', 'succeeded', 0],
      ['node-b', 'running', null],
    ]);

    await writer.finishStep(b, { status: 'failed', exitCode: 3, error: 'exit code 3', attempt: 2 });
    await writer.flush();
    const [, stored] = await rowsOf(executionId);
    expect(stored).toMatchObject({
      id: b.id,
      status: 'failed',
      exitCode: 3,
      error: 'exit code 3',
      attempt: 2,
      durationMs: b.durationMs,
    });
    expect(stored.finishedAt?.getTime()).toBe(b.finishedAt?.getTime());
  });

  it('writes more rows than one batch holds, every one', async () => {
    const executionId = randomUUID();
    const writer = new ExecutionResultWriter(ds, { flushMs: 10_000, maxBatch: 100 });
    const rows = await Promise.all(
      Array.from({ length: 1050 }, (_, i) =>
        writer.startStep(executionId, 'exit', `n-${String(i).padStart(4, '0')}`),
      ),
    );
    await Promise.all(
      rows.map((r, i) =>
        writer.finishStep(r, { status: 'failed', exitCode: i % 7, error: null, attempt: 1 }),
      ),
    );
    await writer.flush();
    const stored = await rowsOf(executionId);
    expect(stored.map((r) => r.exitCode)).toEqual(rows.map((_, i) => i % 7));
  });

  it('a write that fails is reported by flush and by every later call', async () => {
    const writer = new ExecutionResultWriter(ds, { flushMs: 10_000 });
    // step is varchar(63): Postgres refuses the row.
    await writer.startStep(randomUUID(), 'x'.repeat(64), 'node-a');
    await expect(writer.flush()).rejects.toThrow(/^storing step results failed: .*too long/);
    await expect(writer.startStep(randomUUID(), 'ok', 'node-a')).rejects.toThrow(
      /storing step results failed/,
    );
  });
});
