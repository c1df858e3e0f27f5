import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from './app.js';

/**
 * One app per spec file over a directory of runbooks written from `runbooks` (name → YAML text):
 * started in the file's beforeAll, closed and the directory removed in its afterAll. Call it
 * inside the describe; `app.t` is set once beforeAll has run.
 */
export function useRunbookApp(
  prefix: string,
  runbooks: Record<string, string>,
  env: Record<string, string> = {},
): { t: TestApp; dir: string } {
  const app = {} as { t: TestApp; dir: string };
  beforeAll(async () => {
    app.dir = mkdtempSync(join(tmpdir(), `firebreak-${prefix}-`));
    for (const [name, text] of Object.entries(runbooks))
      writeFileSync(join(app.dir, `${name}.yaml`), text);
    app.t = await startTestApp({ RUNBOOKS_DIR: app.dir, ...env });
  });
  afterAll(async () => {
    await app.t?.close();
    if (app.dir) rmSync(app.dir, { recursive: true, force: true });
  });
  return app;
}

/** The REST calls the execution specs make, as `auth` (the admin unless given). */
export function executionCalls(app: { t: TestApp }) {
  const get = (path: string, auth = app.t.adminAuth) =>
    app.t.http().get(path).set('Authorization', auth);
  const post = (path: string, body: object, auth: string) =>
    app.t.http().post(path).set('Authorization', auth).send(body);
  return {
    get,
    post,
    decide: (id: string, auth: string, body: object) =>
      post(`/executions/${id}/approvals`, body, auth),
    /** Polls (generous deadline) until the execution's status is one of `statuses`. */
    async waitStatus(id: string, statuses: readonly string[], timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await get(`/executions/${id}`);
        if (statuses.includes(res.body.status as string)) return res.body;
        if (Date.now() > deadline)
          throw new Error(`execution ${id} is ${res.body.status}, not ${statuses.join('|')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** `step:status` of each result row, in order. */
    async resultsOf(id: string) {
      return (
        (await get(`/executions/${id}`)).body.results as Array<{ step: string; status: string }>
      ).map((r) => `${r.step}:${r.status}`);
    },
    /** The execution's log lines, in order. */
    async logLines(id: string) {
      return ((await get(`/executions/${id}/logs`)).body.items as Array<{ line: string }>).map(
        (l) => l.line,
      );
    },
  };
}

/**
 * The app goes away (its database stays) and a second one, with the same secret key, takes over
 * on that database: what a restart or a second process sees. Returns the new app (also `app.t`).
 */
export async function restartOnSameDatabase(app: { t: TestApp; dir: string }): Promise<TestApp> {
  const first = app.t;
  await first.app.close();
  rmSync(first.config.dataDir, { recursive: true, force: true });
  app.t = await startTestApp(
    { RUNBOOKS_DIR: app.dir, SECRET_KEY: first.config.secretKey },
    first.db,
  );
  return app.t;
}
