import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockedAddress, EgressPolicy } from './egress.js';

/**
 * The egress policy where it decides: names resolved by a fixed table (so no test depends on
 * DNS), every allowed request sent to a real loopback server that counts what arrives, so a
 * refused request is shown to send nothing.
 */
describe('EgressPolicy', () => {
  let server: Server;
  let port: number;
  let received: string[];
  const table: Record<string, string[]> = {
    'ok.test': ['127.0.0.1'],
    'api.internal.example': ['127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    // One good address and one bad: refused, whichever the connection would pick.
    'rebind.test': ['127.0.0.1', '169.254.169.254'],
    'v6meta.test': ['fd00:ec2::254'],
    'mapped.test': ['::ffff:169.254.169.254'],
  };
  const resolve = (
    host: string,
    cb: (e: NodeJS.ErrnoException | null, a: Array<{ address: string; family: number }>) => void,
  ) => {
    const found = table[host];
    if (!found) return cb(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
    cb(
      null,
      found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };

  beforeAll(async () => {
    received = [];
    server = createServer((req, res) => {
      received.push(`${req.headers.host}${req.url}`);
      res.end('pong');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (received = []));

  it('classifies addresses: link-local, metadata and unspecified refused; loopback and private allowed', () => {
    for (const a of [
      '169.254.169.254',
      '169.254.0.1',
      'fd00:ec2::254',
      'fe80::1',
      '0.0.0.0',
      '::',
      '::ffff:169.254.169.254',
    ])
      expect(blockedAddress(a), a).not.toBeNull();
    for (const a of ['127.0.0.1', '10.0.0.5', '192.168.1.1', '::1', 'fd00:ec2::253', '8.8.8.8'])
      expect(blockedAddress(a), a).toBeNull();
  });

  it('sends an allowed request through its own lookup', async () => {
    const policy = new EgressPolicy([], resolve);
    try {
      const res = await policy.fetch(`http://ok.test:${port}/ping`, {});
      expect(await res.text()).toBe('pong');
      expect(received).toEqual([`ok.test:${port}/ping`]);
    } finally {
      await policy.close();
    }
  });

  it('refuses names that resolve to a refused address, and literal forms of one, sending nothing', async () => {
    const policy = new EgressPolicy([], resolve);
    try {
      for (const url of [
        `http://metadata.test:${port}/latest/meta-data/`,
        `http://rebind.test:${port}/`,
        `http://v6meta.test:${port}/`,
        `http://mapped.test:${port}/`,
        'http://169.254.169.254/latest/meta-data/',
        'http://2852039166/', // 169.254.169.254 as one number: the URL parser normalises it
        'http://0xa9.0xfe.0xa9.0xfe/',
        'http://[fd00:ec2::254]/',
        'http://[::ffff:169.254.169.254]/',
        'http://[fe80::1]/',
        'http://0.0.0.0/',
      ]) {
        await expect(policy.fetch(url, {}), url).rejects.toThrow(/^egress policy: /);
      }
      for (const url of ['file:///etc/passwd', 'ftp://ok.test/'])
        await expect(policy.fetch(url, {}), url).rejects.toThrow(/http and https only/);
      expect(received).toEqual([]);
    } finally {
      await policy.close();
    }
  });

  it('with HTTP_ALLOW_HOSTS, only matching hosts, and still never a refused address', async () => {
    const policy = new EgressPolicy(['*.internal.example', '127.0.0.1'], resolve);
    try {
      expect(await (await policy.fetch(`http://api.internal.example:${port}/a`, {})).text()).toBe(
        'pong',
      );
      expect(await (await policy.fetch(`http://127.0.0.1:${port}/b`, {})).text()).toBe('pong');
      await expect(policy.fetch(`http://ok.test:${port}/c`, {})).rejects.toThrow(
        /ok\.test is not in HTTP_ALLOW_HOSTS/,
      );
      // A look-alike suffix is not a match.
      await expect(policy.fetch(`http://api.internal.example.evil:${port}/`, {})).rejects.toThrow(
        /not in HTTP_ALLOW_HOSTS/,
      );
      expect(received).toEqual([`api.internal.example:${port}/a`, `127.0.0.1:${port}/b`]);
    } finally {
      await policy.close();
    }
  });
});
