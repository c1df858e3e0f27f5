import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, migrate } from '../src/database/data-source.js';
import { EmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { PgNotifications } from '../src/database/pg-notifications.js';
import { ExecutionEvents } from '../src/executions/execution-events.js';
import { ExecutionRunner } from '../src/executions/execution.runner.js';
import { entityClasses } from './support/entities.js';
import { readSse, waitFinished } from './support/fleet.js';
import { migrationClasses } from './support/migrations.js';
import { startTestApp, type TestApp } from './support/app.js';

// This file stops and restarts Postgres, so it runs its own cluster (own data directory and
// port), never the shared one the other test files use.

const RUNBOOKS: Record<string, string> = {
  'slow-forty': `name: slow-forty
description: Prints 40 lines slowly, on the Firebreak host
kind: diagnostic
steps:
  - name: count
    on: local
    run: for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done
`,
  'slow-long': `name: slow-long
description: Prints a line every 100 ms for a minute
kind: diagnostic
steps:
  - name: count
    on: local
    run: for i in $(seq 1 600); do echo "tick $i"; sleep 0.1; done
`,
  quick: `name: quick
description: One line
kind: diagnostic
steps:
  - name: hello
    on: local
    run: echo hello
`,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Postgres outage is survived (own embedded Postgres, stopped and restarted)', () => {
  let dir: string;
  let runbooks: string;
  let server: EmbeddedPostgres;
  let port: number;
  let url: string;
  let t: TestApp | undefined;

  const startPostgres = async () => {
    server = await EmbeddedPostgres.start({
      dataDir: join(dir, 'cluster'),
      port,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
  };
  /** Stops Postgres, waits `downMs`, starts it again on the same port and data directory. */
  const outage = async (downMs: number) => {
    await server.stop();
    await sleep(downMs);
    await startPostgres();
  };
  const boot = (env: Record<string, string> = {}) =>
    startTestApp(
      { RUNBOOKS_DIR: runbooks, HEARTBEAT_TIMEOUT: '2', ...env },
      { name: 'firebreak', url, drop: async () => undefined },
    );
  const start = (app: TestApp, runbook: string) =>
    app
      .http()
      .post('/executions')
      .set('Authorization', app.adminAuth)
      .send({ runbook, options: {} });
  const lines = async (id: string): Promise<string[]> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ seq: number; line: string; stream: string }>(
        'SELECT seq, line, stream FROM execution_logs WHERE execution_id = $1 ORDER BY seq',
        [id],
      );
      // seq has no gaps: every line written was stored.
      expect(r.rows.map((x) => x.seq)).toEqual(r.rows.map((_, i) => i + 1));
      return r.rows.filter((x) => x.stream === 'stdout').map((x) => x.line);
    } finally {
      await c.end();
    }
  };
  const streamUrl = (app: TestApp, id: string) =>
    `http://127.0.0.1:${(app.app.getHttpServer().address() as { port: number }).port}/executions/${id}/stream`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-outage-'));
    chmodSync(dir, 0o755); // reachable by the postgres user when the tests run as root
    runbooks = join(dir, 'runbooks');
    mkdirSync(runbooks);
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(runbooks, `${name}.yaml`), text);
    port = 0;
    await startPostgres();
    port = server.port;
    url = server.url;
    const ds = new DataSource(
      dataSourceOptions(url, migrationClasses(), { poolSize: 2, entities: entityClasses() }),
    );
    await ds.initialize();
    try {
      await migrate(ds);
    } finally {
      await ds.destroy();
    }
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a busy worker keeps every line of a run through a restart, and a live stream and LISTEN come back', async () => {
    t = await boot();
    const app = t;
    const notices: string[] = [];
    await app.app.get(ExecutionEvents).subscribe('*', (n) => notices.push(n.kind));
    const res = await start(app, 'slow-forty');
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const sse = readSse(streamUrl(app, id), app.adminAuth);
    // Some output is stored, then Postgres goes away while the step is still printing.
    while ((await lines(id)).length < 5) await sleep(50);
    const beforeOutage = (await lines(id)).length;
    expect(beforeOutage).toBeLessThan(40);
    await outage(1500);

    const done = await waitFinished(app, id);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    expect(await lines(id)).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    // The stream opened before the outage still delivered everything, then the end.
    const events = await sse;
    expect(events[events.length - 1]).toMatchObject({
      event: 'end',
      data: { status: 'succeeded' },
    });
    const streamed = events
      .filter((e) => e.event === 'log' && (e.data as { stream: string }).stream === 'stdout')
      .map((e) => (e.data as { line: string }).line);
    expect(streamed).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    // Writes were retried, not lost.
    expect(app.app.get(ExecutionRunner).logStats.retries).toBeGreaterThan(0);
    // LISTEN is back: a NOTIFY sent now reaches the subscriber (no poll involved).
    const events_ = app.app.get(PgNotifications);
    while (!events_.connected) await sleep(50);
    notices.length = 0;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`SELECT pg_notify('firebreak_execution', $1)`, [
      JSON.stringify({ id, kind: 'cancel' }),
    ]);
    await c.end();
    while (!notices.includes('cancel')) await sleep(20);
  });

  it('an idle worker survives a restart (reaper ticks during the outage) and runs the next job', async () => {
    t = await boot();
    // HEARTBEAT_TIMEOUT=2: the reaper ticks every second, so several ticks fail while it is down.
    await outage(3000);
    const res = await start(t, 'quick');
    expect(res.status).toBe(201);
    const done = await waitFinished(t, res.body.id as string);
    expect(done.status).toBe('succeeded');
    expect(await lines(res.body.id as string)).toEqual(['hello']);
  });

  it('past DB_OUTAGE_LIMIT the run is stopped and recorded as failed once Postgres is back', async () => {
    t = await boot({ DB_OUTAGE_LIMIT: '2' });
    const res = await start(t, 'slow-long');
    const id = res.body.id as string;
    while ((await lines(id)).length < 3) await sleep(50);
    await outage(5000);
    const done = await waitFinished(t, id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/database was unreachable for more than 2 s/);
    // What was printed before the limit is stored, without gaps (checked in lines()).
    const stored = await lines(id);
    expect(stored.length).toBeGreaterThanOrEqual(3);
    expect(stored.length).toBeLessThan(600);
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => `tick ${i + 1}`));
  });
});
