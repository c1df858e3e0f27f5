import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { UsersService } from '../../src/auth/users.service.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  db: TestDatabase;
  http: () => ReturnType<typeof request>;
  /** Logs in and returns a bearer header value. */
  login(username: string, password: string): Promise<string>;
  /** Creates a user through the admin API and returns a bearer header value for them. */
  userWithRoles(
    roles: string[],
    groups?: string[],
  ): Promise<{ id: string; username: string; auth: string }>;
  adminAuth: string;
  close(): Promise<void>;
}

/**
 * Boots the real application (createApp, as main.ts does) on a fresh database, with the first
 * admin created, listening on a free loopback port.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  database?: TestDatabase,
): Promise<TestApp> {
  // Runbooks come from an empty directory unless a test points RUNBOOKS_DIR elsewhere.
  // A test may bring its own (migrated) database, e.g. on a cluster it stops and restarts.
  const db = database ?? (await createTestDatabase());
  const dataDir = mkdtempSync(join(tmpdir(), 'firebreak-test-data-'));
  const config = loadConfig({
    DATABASE_URL: db.url,
    SECRET_KEY: randomBytes(32).toString('hex'),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    PORT: '0',
    FIREBREAK_ADMIN_PASSWORD: ADMIN_PASSWORD,
    RUNBOOKS_DIR: join(dataDir, 'runbooks'),
    // Specs count the nodes they make; the built-in localhost node is asked for where tested.
    LOCAL_NODE: 'false',
    ...env,
  });
  const app = await createApp({ config, databaseUrl: db.url });
  await app.get(UsersService).ensureInitialAdmin(config.adminPassword);
  await app.listen(0, '127.0.0.1');
  const http = () => request(app.getHttpServer());
  const login = async (username: string, password: string) => {
    const res = await http().post('/auth/login').send({ username, password });
    if (res.status !== 200)
      throw new Error(`login as ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
    return `Bearer ${res.body.accessToken as string}`;
  };
  const adminAuth = await login('admin', ADMIN_PASSWORD);
  let n = 0;
  return {
    app,
    config,
    db,
    http,
    login,
    adminAuth,
    async userWithRoles(roles, groups = []) {
      const username = `${roles[0] ?? 'nobody'}-${++n}-${randomBytes(3).toString('hex')}`;
      const password = `pw-${randomBytes(12).toString('hex')}`;
      const res = await http()
        .post('/users')
        .set('Authorization', adminAuth)
        .send({ username, displayName: username, password, roles, groups });
      if (res.status !== 201)
        throw new Error(`creating ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id as string, username, auth: await login(username, password) };
    },
    async close() {
      await app.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
