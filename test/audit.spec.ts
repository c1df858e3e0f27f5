import { DataSource } from 'typeorm';
import { AuditService } from '../src/audit/audit.service.js';
import { startTestApp, type TestApp } from './support/app.js';

describe('tamper-evident audit trail (real app, real Postgres)', () => {
  let t: TestApp;
  let ds: DataSource;
  let audit: AuditService;

  beforeAll(async () => {
    t = await startTestApp();
    ds = t.app.get(DataSource);
    audit = t.app.get(AuditService);
  });
  afterAll(async () => t.close());

  const verify = async () => {
    const res = await t.http().get('/audit/verify').set('Authorization', t.adminAuth);
    expect(res.status).toBe(200);
    return res.body as { ok: boolean; checked: number; firstBad?: { id: string; reason: string } };
  };

  /** Changes the log behind the service's back, as a DBA with the trigger disabled could. */
  const tamper = async (sql: string, params: unknown[]) => {
    await ds.transaction(async (m) => {
      await m.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await m.query(sql, params);
      await m.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
  };

  it('concurrent appends from many requests keep one unbroken chain', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        audit.record(
          { actorId: null, actorName: 'load' },
          { action: 'test.concurrent', details: { i, nested: { b: 1, a: [1, 'x'] } } },
        ),
      ),
    );
    const result = await verify();
    expect(result.ok).toBe(true);
    expect(result.checked).toBeGreaterThanOrEqual(41);
  });

  it('entries appended together (recordMany) keep their order on the chain, among concurrent single appends', async () => {
    const ctx = { actorId: null, actorName: 'load' };
    const many = (k: number) =>
      audit.recordMany(
        Array.from({ length: 25 }, (_, i) => ({
          ctx,
          event: { action: 'test.many', details: { k, i } },
        })),
      );
    const results = await Promise.all([
      many(0),
      ...Array.from({ length: 10 }, (_, i) =>
        audit.record(ctx, { action: 'test.single', details: { i } }),
      ),
      many(1),
    ]);
    const [first, last] = [results[0], results[11]] as Array<Array<{ id: string }>>;
    for (const batch of [first, last]) {
      const rows = await ds.query<Array<{ id: string; details: { i: number } }>>(
        'SELECT id::text AS id, details FROM audit_log WHERE id = ANY($1::bigint[]) ORDER BY audit_log.id',
        [batch.map((e) => e.id)],
      );
      // In the order given, with consecutive ids (one segment: nothing between them).
      expect(rows.map((r) => r.details.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(BigInt(rows[24].id) - BigInt(rows[0].id)).toBe(24n);
    }
    expect(await audit.recordMany([])).toEqual([]);
    const result = await verify();
    expect(result.ok).toBe(true);
  });

  it('masks secrets in details before they are written', async () => {
    const e = await audit.record(
      { actorId: null, actorName: 'system' },
      {
        action: 'test.secret',
        details: { password: 'hunter2hunter2', note: 'uses s3cr3t-value inside', tokenId: 'keep' },
        secretValues: ['s3cr3t-value'],
      },
    );
    const [row] = (await ds.query('SELECT details FROM audit_log WHERE id = $1', [e.id])) as Array<{
      details: unknown;
    }>;
    expect(row.details).toEqual({ password: '***', note: 'uses *** inside', tokenId: 'keep' });
  });

  it('filters by actor, action, outcome and time, newest first, with paging', async () => {
    for (let i = 0; i < 5; i++)
      await audit.record(
        { actorId: null, actorName: 'pager' },
        { action: 'test.page', details: { i } },
      );
    const first = await t
      .http()
      .get('/audit')
      .query({ actor: 'pager', limit: 2 })
      .set('Authorization', t.adminAuth);
    expect(first.body.items.map((e: { details: { i: number } }) => e.details.i)).toEqual([4, 3]);
    const second = await t
      .http()
      .get('/audit')
      .query({ actor: 'pager', limit: 2, before: first.body.nextBefore })
      .set('Authorization', t.adminAuth);
    expect(second.body.items.map((e: { details: { i: number } }) => e.details.i)).toEqual([2, 1]);
    const future = await t
      .http()
      .get('/audit')
      .query({ actor: 'pager', from: new Date(Date.now() + 60_000).toISOString() })
      .set('Authorization', t.adminAuth);
    expect(future.body.items).toEqual([]);
    const bad = await t
      .http()
      .get('/audit')
      .query({ limit: 0, from: 'yesterday' })
      .set('Authorization', t.adminAuth);
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['from', 'limit']);
  });

  it('an entry changed directly in SQL is named by /audit/verify', async () => {
    const victim = await audit.record(
      { actorId: null, actorName: 'alice' },
      { action: 'test.victim', details: { target: 'db-1' } },
    );
    await audit.record({ actorId: null, actorName: 'bob' }, { action: 'test.after' });
    expect((await verify()).ok).toBe(true);

    await tamper(`UPDATE audit_log SET details = '{"target":"db-2"}' WHERE id = $1`, [victim.id]);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.firstBad).toEqual({
      id: victim.id,
      reason: 'content does not match its hash (the entry was altered)',
    });

    // Restore, so the next test starts from a sound chain.
    await tamper(`UPDATE audit_log SET details = '{"target":"db-1"}' WHERE id = $1`, [victim.id]);
    expect((await verify()).ok).toBe(true);
  });

  it('an entry deleted directly in SQL is detected at the entry after it', async () => {
    const a = await audit.record({ actorId: null, actorName: 'x' }, { action: 'test.a' });
    await audit.record({ actorId: null, actorName: 'x' }, { action: 'test.b' });
    const c = await audit.record({ actorId: null, actorName: 'x' }, { action: 'test.c' });
    await tamper('DELETE FROM audit_log WHERE id = $1', [String(BigInt(a.id) + 1n)]);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.firstBad!.id).toBe(c.id);
    expect(result.firstBad!.reason).toMatch(/removed or reordered/);
  });

  it('only admins may read or verify the trail', async () => {
    const op = await t.userWithRoles(['operator']);
    expect((await t.http().get('/audit').set('Authorization', op.auth)).status).toBe(403);
    expect((await t.http().get('/audit/verify').set('Authorization', op.auth)).status).toBe(403);
  });
});
