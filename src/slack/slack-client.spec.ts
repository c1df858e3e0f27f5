import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/config.js';
import { retryAfterMs, SlackCallError, SlackClient } from './slack-client.js';

const configWith = (slack: Partial<AppConfig['slack']>) =>
  ({
    slack: {
      signingSecret: undefined,
      botToken: 'xoxb-unit-token',
      apiUrl: 'http://127.0.0.1:1/api',
      responseUrlHosts: ['hooks.slack.com'],
      approvalsChannel: undefined,
      runbookApprovalChannels: {},
      incidentChannel: undefined,
      emailLinking: false,
      ...slack,
    },
  }) as AppConfig;

describe('SlackClient', () => {
  it('allows response_urls only on https Slack hosts or exact listed origins', () => {
    const c = new SlackClient(
      configWith({ responseUrlHosts: ['hooks.slack.com', 'http://127.0.0.1:8080'] }),
    );
    expect(c.responseUrlAllowed('https://hooks.slack.com/commands/T1/2/x')).toBe(true);
    expect(c.responseUrlAllowed('http://hooks.slack.com/commands/T1/2/x')).toBe(false);
    expect(c.responseUrlAllowed('https://hooks.slack.com.evil.example/x')).toBe(false);
    expect(c.responseUrlAllowed('https://user:pw@hooks.slack.com/x')).toBe(false);
    expect(c.responseUrlAllowed('https://hooks.slack.com:8443/x')).toBe(false);
    expect(c.responseUrlAllowed('http://127.0.0.1:8080/response/1')).toBe(true);
    expect(c.responseUrlAllowed('http://127.0.0.1:8081/response/1')).toBe(false);
    expect(c.responseUrlAllowed('http://169.254.169.254/latest')).toBe(false);
    expect(c.responseUrlAllowed('not a url')).toBe(false);
  });

  it('reads Retry-After in seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(null)).toBe(1000);
    expect(retryAfterMs('soon')).toBe(1000);
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(retryAfterMs('Tue, 01 Dec 2026 12:00:05 GMT', now)).toBe(5000);
  });

  describe('against a local server', () => {
    let server: Server;
    let base: string;
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    let plan: number[] = [];
    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push({ url: req.url ?? '', auth: req.headers.authorization });
        const status = plan.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(
          status === 200
            ? req.url?.includes('refuse')
              ? '{"ok":false,"error":"channel_not_found"}'
              : '{"ok":true,"ts":"1.2"}'
            : '{"ok":false}',
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    beforeEach(() => {
      seen.length = 0;
    });

    it('retries 5xx with backoff, gives up after its attempts, and never puts the token in errors', async () => {
      const c = SlackClient.withOptions(configWith({ apiUrl: `${base}/api` }), { attempts: 3 });
      plan = [502, 503];
      await expect(c.call('chat.postMessage', { channel: 'C1', text: 'x' })).resolves.toMatchObject(
        { ok: true, ts: '1.2' },
      );
      expect(seen).toHaveLength(3);
      expect(seen[0]).toEqual({ url: '/api/chat.postMessage', auth: 'Bearer xoxb-unit-token' });
      plan = [500, 500, 500];
      const err = await c.call('chat.update', {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SlackCallError);
      expect((err as Error).message).toBe('chat.update: HTTP 500');
      const refused = await c.call('refuse', {}).catch((e: unknown) => e);
      expect((refused as SlackCallError).code).toBe('channel_not_found');
      expect(JSON.stringify([err, refused, (err as Error).message])).not.toContain('xoxb');
    });

    it('refuses a response_url off the allowed hosts without calling it', async () => {
      const c = new SlackClient(configWith({ responseUrlHosts: ['hooks.slack.com'] }));
      await expect(c.respond(`${base}/response/1`, { text: 'x' })).rejects.toThrow(
        /not a Slack host/,
      );
      expect(seen).toHaveLength(0);
    });
  });
});
