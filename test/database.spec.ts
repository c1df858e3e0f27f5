import { DataSource } from 'typeorm';
import { schemaDrift } from '../src/database/data-source.js';
import { startTestApp } from './support/app.js';
import { createTestDatabase, openDataSource, type TestDatabase } from './support/database.js';
import { entityClasses } from './support/entities.js';

describe('schema (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openDataSource(db.url);
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('entities and migrations agree (run `npm run migration:generate -- Name` when this fails)', async () => {
    const drift = await schemaDrift(ds);
    expect(drift.up).toEqual([]);
  });

  it('the app registers every entity through its modules (TypeOrmModule.forFeature)', async () => {
    const t = await startTestApp();
    try {
      const registered = t.app.get(DataSource).entityMetadatas.map((m) => m.name);
      expect(registered.sort()).toEqual(
        entityClasses()
          .map((c) => c.name)
          .sort(),
      );
      // …and every table the migrations create has its entity (no file missed by the glob).
      const tables = (await ds.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'",
      )) as Array<{ table_name: string }>;
      expect(ds.entityMetadatas.map((m) => m.tableName).sort()).toEqual(
        tables.map((r) => r.table_name).sort(),
      );
    } finally {
      await t.close();
    }
  });

  it('every migration reverts and re-applies cleanly', async () => {
    const applied = (await ds.query('SELECT name FROM migrations ORDER BY id')) as Array<{
      name: string;
    }>;
    expect(applied.length).toBeGreaterThan(0);
    for (let i = 0; i < applied.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    const tables = (await ds.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'",
    )) as unknown[];
    expect(tables).toEqual([]);
    await ds.runMigrations({ transaction: 'each' });
    expect((await schemaDrift(ds)).up).toEqual([]);
  });

  it('StreamOrder numbers the timeline entries that exist, per incident in id order', async () => {
    // Undo the later migrations too, down to and including StreamOrder.
    const names = (await ds.query('SELECT name FROM migrations ORDER BY id DESC')) as Array<{
      name: string;
    }>;
    const upTo = names.findIndex((m) => m.name === 'StreamOrder1795442000000');
    expect(upTo).toBeGreaterThanOrEqual(0);
    for (let i = 0; i <= upTo; i++) await ds.undoLastMigration({ transaction: 'each' });
    const [a, b] = (await ds.query(
      `INSERT INTO incidents (title, severity, status, source, declared_by_name)
       VALUES ('a', 'SEV2', 'triggered', 'manual', 'x'), ('b', 'SEV3', 'triggered', 'manual', 'x')
       RETURNING id`,
    )) as Array<{ id: string }>;
    for (const id of [a.id, b.id, a.id, a.id, b.id]) {
      await ds.query(
        `INSERT INTO incident_timeline (incident_id, at, kind, actor_name, summary)
         VALUES ($1, now(), 'note', 'x', 'n')`,
        [id],
      );
    }
    await ds.runMigrations({ transaction: 'each' });
    const rows = (await ds.query(
      'SELECT incident_id AS "incidentId", seq FROM incident_timeline ORDER BY id',
    )) as Array<{ incidentId: string; seq: number }>;
    expect(rows.map((r) => `${r.incidentId === a.id ? 'a' : 'b'}${r.seq}`)).toEqual([
      'a1',
      'b1',
      'a2',
      'a3',
      'b2',
    ]);
    const counts = (await ds.query(
      'SELECT title, timeline_seq AS n FROM incidents ORDER BY title',
    )) as Array<{ title: string; n: number }>;
    expect(counts).toEqual([
      { title: 'a', n: 3 },
      { title: 'b', n: 2 },
    ]);
    // Still append-only afterwards.
    await expect(ds.query('UPDATE incident_timeline SET seq = seq + 10')).rejects.toThrow(
      /append-only/,
    );
  });

  it('the database itself refuses UPDATE, DELETE and TRUNCATE on the audit log', async () => {
    await ds.query(
      `INSERT INTO audit_log (id, at, actor_name, action, outcome, prev_hash, hash)
       VALUES (nextval('audit_log_id_seq'), now(), 'test', 'test.event', 'success', repeat('0', 64), repeat('1', 64))`,
    );
    await expect(ds.query("UPDATE audit_log SET actor_name = 'mallory'")).rejects.toThrow(
      /append-only: UPDATE refused/,
    );
    await expect(ds.query('DELETE FROM audit_log')).rejects.toThrow(/append-only: DELETE refused/);
    await expect(ds.query('TRUNCATE audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
    const [{ count }] = (await ds.query('SELECT count(*)::int AS count FROM audit_log')) as Array<{
      count: number;
    }>;
    expect(count).toBe(1);
  });
});
