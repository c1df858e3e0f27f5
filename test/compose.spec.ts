import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

interface Service {
  build?: string;
  stop_grace_period?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
}

/** No Docker engine runs here, so the compose file is checked for what a team relies on. */
describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as {
    services: Record<string, Service>;
  };

  it('runs Postgres, Redis, api, workers and a demo SSH node', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'api',
      'demo-node',
      'postgres',
      'redis',
      'worker',
    ]);
    expect(compose.services.api.environment!.ROLE).toBe('api');
    expect(compose.services.worker.environment!.ROLE).toBe('worker');
  });

  it('wires api and workers to the shared database, queue and secret, with no password in the file', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name].environment!;
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/firebreak:\$\{POSTGRES_PASSWORD:\?/);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.SECRET_KEY).toMatch(/^\$\{FIREBREAK_SECRET_KEY:\?/);
      expect(compose.services[name].depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
    }
  });

  it('gives a draining worker longer than DRAIN_GRACE and the force-exit margin before SIGKILL', () => {
    const worker = compose.services.worker;
    const grace = Number(worker.environment!.DRAIN_GRACE);
    expect(grace).toBeGreaterThan(0);
    const stop = /^(\d+)s$/.exec(worker.stop_grace_period ?? '');
    expect(stop, 'stop_grace_period in seconds, e.g. 45s').not.toBeNull();
    // main.ts forces the exit 15 s after the grace; Docker must not SIGKILL before that.
    expect(Number(stop![1])).toBeGreaterThan(grace + 15);
  });

  it('builds from files that exist', () => {
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(existsSync(join(ROOT, compose.services['demo-node'].build!, 'Dockerfile'))).toBe(true);
  });
});
