import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from './support/app.js';
import { registerFleet, waitFinished } from './support/fleet.js';
import { startModelServer, type ModelServer } from './support/model-server.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { startServiceHost, type ServiceHost } from './support/service-host.js';
import { startSshd, type SshServer } from './support/sshd.js';

const SHIPPED = join(import.meta.dirname, '..', 'runbooks');

interface Result {
  step: string;
  node: string | null;
  status: string;
  error: string | null;
  attempt: number;
}

/**
 * The runbooks in `runbooks/`, as shipped, run end to end: model-rollback against a model-serving
 * stand-in, cache-clear against a real redis-server through a real sshd target.
 */
describe('the shipped runbooks, end to end', () => {
  let t: TestApp;
  let dir: string;
  let sshd: SshServer;
  let redis: RedisServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-shipped-'));
    cpSync(SHIPPED, dir, { recursive: true });
    [sshd, redis] = await Promise.all([startSshd(), startRedis()]);
    t = await startTestApp({ RUNBOOKS_DIR: dir });
    await registerFleet(t, sshd, ['cache-1'], { attributes: { environment: 'staging' } });
    await registerFleet(t, sshd, ['cache-prod'], { attributes: { environment: 'production' } });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([sshd?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string) => t.http().get(path).set('Authorization', t.adminAuth);
  const post = (path: string, body: object) =>
    t.http().post(path).set('Authorization', t.adminAuth).send(body);
  const logText = async (id: string) =>
    (
      (await get(`/executions/${id}/logs?limit=1000`)).body.items as Array<{
        step: string | null;
        line: string;
      }>
    )
      .map((l) => `${l.step ?? '-'}: ${l.line}`)
      .join('\n');

  describe('model-rollback', () => {
    let serving: ModelServer;
    afterEach(async () => serving?.close());

    const rollback = (model: string, extra: Record<string, unknown> = {}) =>
      post('/executions', {
        runbook: 'model-rollback',
        options: {
          serving_url: serving.url,
          model,
          api_token: serving.token,
          gate_checks: 3,
          gate_interval: '50ms',
          ...extra,
        },
      });

    it('switches the model back to its previous version and passes the error-rate gate', async () => {
      serving = await startModelServer({
        ranker: { version: 'v8', previous_version: 'v7', errorRates: { v8: 0.3, v7: 0.001 } },
      });
      const res = await rollback('ranker');
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(serving.model('ranker')).toEqual({ version: 'v7', previous_version: 'v8' });

      // The switch asked for the previous version, said who and why, and carried the token.
      const switches = serving.requests.filter((r) => r.method === 'POST');
      expect(switches).toEqual([
        {
          method: 'POST',
          path: '/v1/models/ranker/active',
          authorized: true,
          body: {
            version: 'v7',
            reason: `rollback from v8 by Firebreak execution ${res.body.id as string}`,
          },
        },
      ]);
      expect(serving.requests.every((r) => r.authorized)).toBe(true);
      const results = done.results as unknown as Result[];
      expect(results.map((r) => [r.step, r.status])).toEqual([
        ['current', 'succeeded'],
        ['has-previous', 'succeeded'],
        ['switch', 'succeeded'],
        ['serving-previous', 'succeeded'],
        ['error-rate-recovered', 'succeeded'],
      ]);
      // The bearer token is a secure option: nowhere in the log or the execution.
      const everything = (await logText(res.body.id as string)) + JSON.stringify(done);
      expect(everything).not.toContain(serving.token);
    });

    it('fails the run loudly when the error rate stays high after the switch, after every read', async () => {
      serving = await startModelServer({
        ranker: { version: 'v8', previous_version: 'v7', errorRates: { v8: 0.3, v7: 0.25 } },
      });
      const res = await rollback('ranker', { max_error_rate: 0.05 });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status).toBe('failed');
      const results = done.results as unknown as Result[];
      const gate = results.find((r) => r.step === 'error-rate-recovered')!;
      expect(gate).toMatchObject({ status: 'failed', attempt: 3 });
      expect(gate.error).toMatch(/\$\.error_rate is 0\.25.*0\.05/);
      // It read the metrics once per attempt, and then ran onError to show the state it left.
      expect(serving.requests.filter((r) => r.path.endsWith('/metrics'))).toHaveLength(3);
      expect(results.find((r) => r.step === 'state-after-failure')?.status).toBe('succeeded');
      // The switch did happen: the run says the model is on v7 but unhealthy, it does not hide it.
      expect(serving.model('ranker').version).toBe('v7');
    });

    it('changes nothing when the model has no previous version', async () => {
      serving = await startModelServer({
        fresh: { version: 'v1', previous_version: null, errorRates: { v1: 0.4 } },
      });
      const res = await rollback('fresh');
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status).toBe('failed');
      const results = done.results as unknown as Result[];
      const check = results.find((r) => r.step === 'has-previous');
      expect(check?.status).toBe('failed');
      expect(check?.error).toMatch(/\$\.previous_version is null/);
      expect(results.some((r) => r.step === 'switch')).toBe(false);
      expect(serving.requests.some((r) => r.method === 'POST')).toBe(false);
      expect(serving.model('fresh')).toEqual({ version: 'v1', previous_version: null });
    });

    it('refuses a gate interval that is not a duration, naming the option, before anything runs', async () => {
      serving = await startModelServer({
        ranker: { version: 'v8', previous_version: 'v7', errorRates: { v8: 0.3, v7: 0.001 } },
      });
      const res = await rollback('ranker', { gate_interval: '30 seconds; reboot' });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('options.gate_interval');
      expect(serving.requests).toEqual([]);
    });
  });

  describe('restart-service', () => {
    // Three staging nodes, each its own server (own sshd, own service manager with unit `api`).
    const NODES = ['web-1', 'web-2', 'web-3'];
    const hosts: ServiceHost[] = [];
    const servers: SshServer[] = [];
    beforeAll(async () => {
      for (const name of NODES) {
        const host = await startServiceHost(['api']);
        const server = await startSshd({ path: [host.binDir] });
        hosts.push(host);
        servers.push(server);
        await registerFleet(t, server, [name], { credential: `key-${name}` });
      }
    });
    afterAll(async () => {
      await Promise.all([...servers.map((s) => s.stop()), ...hosts.map((h) => h.close())]);
    });

    const restart = () =>
      post('/executions', {
        runbook: 'restart-service',
        nodes: NODES,
        options: { service: 'api', batch: 1, health_checks: 2, health_interval: '50ms' },
      });

    it('restarts the service on every node, one batch at a time, each healthy before the next', async () => {
      const before = await Promise.all(hosts.map((h) => h.pid('api')));
      const res = await restart();
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status, done.error ?? '').toBe('succeeded');
      const after = await Promise.all(hosts.map((h) => h.pid('api')));
      after.forEach((pid, i) => {
        expect(pid, NODES[i]).not.toBeNull();
        expect(pid, NODES[i]).not.toBe(before[i]);
      });
      const log = await logText(res.body.id as string);
      expect(log).toContain('batch 1/3: web-1');
      expect(log).toContain('batch 3/3: web-3');
      const results = done.results as unknown as Result[];
      for (const node of NODES)
        expect(results.filter((r) => r.node === node).map((r) => [r.step, r.status])).toEqual([
          ['status-before', 'succeeded'],
          ['restart', 'succeeded'],
          ['healthy', 'succeeded'],
        ]);
    });

    it('stops the rollout at the first node that does not come back, and shows its journal', async () => {
      await hosts[1]!.breakUnit('api');
      const third = await hosts[2]!.pid('api');
      const thirdStarts = await hosts[2]!.starts('api');
      const res = await restart();
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status).toBe('failed');
      const results = done.results as unknown as Result[];
      const on = (node: string) =>
        results.filter((r) => r.node === node).map((r) => [r.step, r.status]);
      expect(on('web-1')).toEqual([
        ['status-before', 'succeeded'],
        ['restart', 'succeeded'],
        ['healthy', 'succeeded'],
      ]);
      // web-2's restart failed (its unit cannot start), so the batch stopped there; its journal
      // was fetched by onError; web-3 was never touched.
      expect(on('web-2')).toEqual([
        ['status-before', 'succeeded'],
        ['restart', 'failed'],
        ['journal', 'succeeded'],
      ]);
      expect(on('web-3')).toEqual([]);
      expect(await hosts[2]!.pid('api')).toBe(third);
      expect(await hosts[2]!.starts('api')).toBe(thirdStarts);
      expect(await logText(res.body.id as string)).toMatch(
        /journal: .*Failed to start api\.service/,
      );
    });
  });

  describe('restart-service in production', () => {
    let host: ServiceHost;
    let server: SshServer;
    beforeAll(async () => {
      host = await startServiceHost(['api']);
      server = await startSshd({ path: [host.binDir] });
      await registerFleet(t, server, ['web-prod'], {
        credential: 'key-web-prod',
        attributes: { environment: 'production' },
      });
    });
    afterAll(async () => Promise.all([server?.stop(), host?.close()]));

    it('is held for approval before anything runs on a production node', async () => {
      const pid = await host.pid('api');
      const res = await post('/executions', {
        runbook: 'restart-service',
        nodes: ['web-prod'],
        options: { service: 'api' },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.status).toBe('awaiting_approval');
      const held = (await get(`/executions/${res.body.id as string}`)).body as {
        results: unknown[];
        approvals: Array<{ reason: string; approvers: string[]; plan: { steps: unknown[] } }>;
      };
      expect(held.results).toEqual([]);
      expect(held.approvals[0]!.reason).toMatch(/restarting a service on a production node/);
      expect(held.approvals[0]!.approvers).toEqual(['sre-lead', 'admin']);
      expect(JSON.stringify(held.approvals[0]!.plan)).toContain('sudo systemctl restart -- api');
      const cancel = await post(`/executions/${res.body.id as string}/cancel`, {});
      expect(cancel.status, JSON.stringify(cancel.body)).toBeLessThan(300);
      expect((await waitFinished(t, res.body.id as string)).status).toBe('canceled');
      expect(await host.pid('api')).toBe(pid);
      expect(await host.starts('api')).toBe(1);
    });
  });

  describe('restart-service health gate', () => {
    let host: ServiceHost;
    let server: SshServer;
    beforeAll(async () => {
      host = await startServiceHost(['worker']);
      server = await startSshd({ path: [host.binDir] });
      await registerFleet(t, server, ['batch-1'], { credential: 'key-batch-1' });
    });
    afterAll(async () => Promise.all([server?.stop(), host?.close()]));

    it('fails the node when the service restarts fine but never comes up, after every check', async () => {
      await host.crashUnit('worker');
      const res = await post('/executions', {
        runbook: 'restart-service',
        nodes: ['batch-1'],
        options: { service: 'worker', health_checks: 3, health_interval: '50ms' },
      });
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status).toBe('failed');
      const results = done.results as unknown as Result[];
      expect(results.find((r) => r.step === 'restart')?.status).toBe('succeeded');
      expect(results.find((r) => r.step === 'healthy')).toMatchObject({
        status: 'failed',
        attempt: 3,
      });
      expect(await logText(res.body.id as string)).toMatch(/journal: .*status=11\/SEGV/);
    });
  });

  describe('cache-clear', () => {
    const redisCli = (...args: string[]) =>
      execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();

    it('flushes exactly the one Redis database on the node and verifies it is empty', async () => {
      redisCli('-n', '3', 'SET', 'session:1', 'a');
      redisCli('-n', '3', 'SET', 'session:2', 'b');
      redisCli('-n', '4', 'SET', 'keep', 'me');
      const res = await post('/executions', {
        runbook: 'cache-clear',
        nodes: ['cache-1'],
        options: { scope: 'redis-db', redis_port: redis.port, redis_db: 3 },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const done = await waitFinished(t, res.body.id as string);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(redisCli('-n', '3', 'DBSIZE')).toBe('0');
      expect(redisCli('-n', '4', 'GET', 'keep')).toBe('me');
      const results = done.results as unknown as Result[];
      expect(results.map((r) => [r.step, r.status])).toEqual([
        ['purge-path', 'skipped'],
        ['ban-all', 'skipped'],
        ['flush-redis', 'succeeded'],
        ['redis-empty', 'succeeded'],
      ]);
      expect(await logText(res.body.id as string)).toContain('flush-redis: OK');
    });

    it('refuses a database number outside the 0-15 the option allows', async () => {
      // A database past the 0-15 the option allows cannot be named: the option refuses it.
      const bad = await post('/executions', {
        runbook: 'cache-clear',
        nodes: ['cache-1'],
        options: { scope: 'redis-db', redis_port: redis.port, redis_db: 16 },
      });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('options.redis_db');
    });

    it('holds a production flush for an sre-lead, who is not the requester, then runs it', async () => {
      redisCli('-n', '5', 'SET', 'prod', 'x');
      const operator = await t.userWithRoles(['operator']);
      const lead = await t.userWithRoles(['responder'], ['sre-lead']);
      const res = await t
        .http()
        .post('/executions')
        .set('Authorization', operator.auth)
        .send({
          runbook: 'cache-clear',
          nodes: ['cache-prod'],
          options: { scope: 'redis-db', redis_port: redis.port, redis_db: 5 },
        });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.status).toBe('awaiting_approval');
      const id = res.body.id as string;
      const held = (await get(`/executions/${id}`)).body as {
        approvals: Array<{ approvers: string[]; reason: string }>;
      };
      expect(held.approvals[0]!.approvers).toEqual(['sre-lead', 'admin']);
      expect(held.approvals[0]!.reason).toMatch(/every request to the origin/);
      // Nothing ran while it waits.
      expect(redisCli('-n', '5', 'GET', 'prod')).toBe('x');
      // The requester cannot approve their own flush; the sre-lead can.
      const decide = (auth: string) =>
        t
          .http()
          .post(`/executions/${id}/approvals`)
          .set('Authorization', auth)
          .send({ decision: 'approve', comment: 'origin can take it' });
      expect((await decide(operator.auth)).status).toBe(403);
      const ok = await decide(lead.auth);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      const done = await waitFinished(t, id);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(redisCli('-n', '5', 'DBSIZE')).toBe('0');
    });
  });
});
