import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseEnv } from './config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    parseEnv(env, '/srv');
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('has working defaults for the embedded, single-process mode', () => {
    const c = parseEnv({}, '/srv/firebreak');
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      role: 'all',
      dataDir: '/srv/firebreak/.data',
      runbooksDir: '/srv/firebreak/runbooks',
      databaseUrl: undefined,
      redisUrl: undefined,
      logLevel: 'info',
      jwtTtlSeconds: 900,
      bodyLimitBytes: 1024 * 1024,
      loginMaxAttempts: 5,
      publicUrl: 'http://127.0.0.1:3000',
    });
  });

  it('PORT=abc names PORT and what it expected, in one line', () => {
    const problems = problemsOf({ PORT: 'abc' });
    expect(problems).toEqual(['PORT="abc": expected the HTTP port: an integer 0-65535']);
    expect(new ConfigError(problems).message).not.toContain('\n');
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({
      PORT: '70000',
      ROLE: 'boss',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'localhost:6379',
      LOG_LEVEL: 'loud',
      BODY_LIMIT: 'huge',
      SECRET_KEY: 'short',
    });
    expect(problems.map((p) => p.split('=')[0]).sort()).toEqual([
      'BODY_LIMIT',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PORT',
      'REDIS_URL',
      'ROLE',
      'SECRET_KEY',
    ]);
    expect(problems.find((p) => p.startsWith('SECRET_KEY'))).toBe(
      'SECRET_KEY=(hidden): expected at least 32 characters',
    );
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ PORT: '', DATABASE_URL: '' }, '/x')).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
    });
  });

  it('parses sizes, durations and booleans', () => {
    const c = parseEnv(
      { BODY_LIMIT: '512kb', JWT_TTL: '1h', TRUST_PROXY: 'yes', LOG_PRETTY: 'false' },
      '/x',
    );
    expect(c).toMatchObject({
      bodyLimitBytes: 512 * 1024,
      jwtTtlSeconds: 3600,
      trustProxy: true,
      logPretty: false,
    });
    expect(() => parseEnv({ JWT_TTL: '30s' }, '/x')).toThrow(
      /JWT_TTL="30s": expected between 1m and 24h/,
    );
  });

  it('TOKEN_DEFAULT_TTL and TOKEN_MAX_TTL: 30d and 365d by default; the default fits the maximum', () => {
    expect(parseEnv({}, '/x')).toMatchObject({
      tokenDefaultTtlSeconds: 30 * 86400,
      tokenMaxTtlSeconds: 365 * 86400,
    });
    expect(parseEnv({ TOKEN_DEFAULT_TTL: '12h', TOKEN_MAX_TTL: '7d' }, '/x')).toMatchObject({
      tokenDefaultTtlSeconds: 12 * 3600,
      tokenMaxTtlSeconds: 7 * 86400,
    });
    expect(problemsOf({ TOKEN_DEFAULT_TTL: '30d', TOKEN_MAX_TTL: '7d' })).toEqual([
      'TOKEN_DEFAULT_TTL="30d": expected between 1m and TOKEN_MAX_TTL (7d)',
    ]);
    expect(problemsOf({ TOKEN_MAX_TTL: 'forever' })).toEqual([
      'TOKEN_MAX_TTL="forever": expected a duration such as 3600, 12h or 365d',
    ]);
  });

  it('CORS_ORIGINS: none by default; exact origins only, never null or a wildcard', () => {
    expect(parseEnv({}, '/x').corsOrigins).toEqual([]);
    expect(
      parseEnv({ CORS_ORIGINS: 'https://console.example.com, http://localhost:5173' }, '/x')
        .corsOrigins,
    ).toEqual(['https://console.example.com', 'http://localhost:5173']);
    for (const bad of [
      'null',
      '*',
      'https://*.example.com',
      'console.example.com',
      'https://a.example/path',
    ])
      expect(() => parseEnv({ CORS_ORIGINS: bad }, '/x'), bad).toThrow(/CORS_ORIGINS/);
  });

  it('HTTP_ALLOW_HOSTS: any host by default; host names and globs, lower-cased', () => {
    expect(parseEnv({}, '/x').httpAllowHosts).toEqual([]);
    expect(
      parseEnv({ HTTP_ALLOW_HOSTS: '*.Internal.example, 10.0.0.5' }, '/x').httpAllowHosts,
    ).toEqual(['*.internal.example', '10.0.0.5']);
    expect(() => parseEnv({ HTTP_ALLOW_HOSTS: 'https://x.example/' }, '/x')).toThrow(
      /HTTP_ALLOW_HOSTS/,
    );
  });

  it('the local node: on by default, LOCAL_RUN_USER a plain unprivileged user name', () => {
    expect(parseEnv({}, '/srv')).toMatchObject({ localNode: true, localRunUser: 'firebreak-run' });
    expect(parseEnv({ LOCAL_NODE: 'false', LOCAL_RUN_USER: 'runner_1' }, '/srv')).toMatchObject({
      localNode: false,
      localRunUser: 'runner_1',
    });
    expect(problemsOf({ LOCAL_RUN_USER: 'root' })).toEqual([
      'LOCAL_RUN_USER="root": expected an unprivileged user, not root',
    ]);
    expect(problemsOf({ LOCAL_RUN_USER: 'a b;' })[0]).toMatch(/^LOCAL_RUN_USER="a b;": expected/);
    expect(problemsOf({ LOCAL_NODE: 'maybe' })[0]).toMatch(/^LOCAL_NODE="maybe": expected true/);
  });

  it('retention: 90 days by default, every hour, in batches; off turns it off', () => {
    expect(parseEnv({}, '/srv')).toMatchObject({
      retentionExecutionsSeconds: 90 * 86400,
      retentionIntervalSeconds: 3600,
      retentionBatch: 100,
    });
    expect(
      parseEnv(
        { RETENTION_EXECUTIONS: '12h', RETENTION_INTERVAL: '90', RETENTION_BATCH: '5' },
        '/srv',
      ),
    ).toMatchObject({
      retentionExecutionsSeconds: 12 * 3600,
      retentionIntervalSeconds: 90,
      retentionBatch: 5,
    });
    expect(parseEnv({ RETENTION_EXECUTIONS: 'off' }, '/srv').retentionExecutionsSeconds).toBeNull();
    expect(problemsOf({ RETENTION_EXECUTIONS: '90 days', RETENTION_INTERVAL: '0' })).toEqual([
      'RETENTION_EXECUTIONS="90 days": expected an age such as 90d, 12h or 3600, or off',
      'RETENTION_INTERVAL="0": expected a duration such as 1h, 15m or 60',
    ]);
  });

  describe('secret key', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'fb-config-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is generated once under DATA_DIR with mode 0600 and reused', () => {
      const first = loadConfig({ DATA_DIR: dir }, '/');
      expect(first.secretKeySource).toBe('generated');
      expect(first.secretKey.length).toBeGreaterThanOrEqual(32);
      expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
      const second = loadConfig({ DATA_DIR: dir }, '/');
      expect(second).toMatchObject({ secretKey: first.secretKey, secretKeySource: 'file' });
      expect(readFileSync(join(dir, 'secret.key'), 'utf8').trim()).toBe(first.secretKey);
    });

    it('an existing DATA_DIR and key left open by an older version are closed again', () => {
      chmodSync(dir, 0o755);
      loadConfig({ DATA_DIR: dir }, '/');
      chmodSync(join(dir, 'secret.key'), 0o644);
      loadConfig({ DATA_DIR: dir }, '/');
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
    });

    it('comes from SECRET_KEY when set, and nothing is written', () => {
      const c = loadConfig({ DATA_DIR: dir, SECRET_KEY: 'k'.repeat(40) }, '/');
      expect(c).toMatchObject({ secretKey: 'k'.repeat(40), secretKeySource: 'env' });
      expect(() => statSync(join(dir, 'secret.key'))).toThrow();
    });

    it('is required with DATABASE_URL, where processes must share it', () => {
      expect(() =>
        loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgres://u:p@db/firebreak' }, '/'),
      ).toThrow(/SECRET_KEY: required when DATABASE_URL is set/);
    });
  });
});
