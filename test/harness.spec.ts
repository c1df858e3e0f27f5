import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';

import { Redis } from 'ioredis';
import { Client, type ConnectConfig } from 'ssh2';

import { ensureBinary, findBinary, missingBinaryMessage } from './support/binaries.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { ed25519KeyPair } from './support/ssh-keys.js';
import { startSshd, type SshServer } from './support/sshd.js';

// The integration harness itself: real redis-server and OpenSSH sshd, started per test file.

function connectionRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function connect(server: SshServer, overrides: Partial<ConnectConfig> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: server.privateKey,
      hostVerifier: (key: Buffer) => sha256Fingerprint(key) === server.hostKeyFingerprint,
      readyTimeout: 10_000,
      ...overrides,
    });
  });
}

function exec(
  client: Client,
  command: string,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      stream.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      stream.on('exit', (exitCode: number | null) => (code = exitCode));
      stream.on('close', () => resolve({ stdout, stderr, code }));
    });
  });
}

describe('ensureBinary', () => {
  it('tells a non-root user the exact apt-get command', () => {
    const message = missingBinaryMessage('firebreak-no-such-cmd', 'firebreak-no-such-pkg');
    expect(message).toContain('sudo apt-get install -y firebreak-no-such-pkg');
    expect(message).toContain('firebreak-no-such-cmd');
  });

  it('resolves an installed binary to an absolute path without installing anything', async () => {
    const sh = await ensureBinary('sh', 'dash');
    expect(path.isAbsolute(sh)).toBe(true);
    expect(await findBinary('firebreak-no-such-cmd')).toBeNull();
  });
});

describe('startRedis', () => {
  let server: RedisServer;
  let redis: Redis | undefined;

  beforeAll(async () => {
    server = await startRedis();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('answers PING and SET/GET through ioredis; stop() closes the port', async () => {
    expect(server.url).toBe(`redis://${server.host}:${server.port}`);
    redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    expect(await redis.ping()).toBe('PONG');
    await redis.set('firebreak:harness', 'ok');
    expect(await redis.get('firebreak:harness')).toBe('ok');
    redis.disconnect();
    redis = undefined;

    await server.stop();
    expect(await connectionRefused(server.host, server.port)).toBe(true);
    await server.stop(); // idempotent
  });
});

describe('startSshd', () => {
  let server: SshServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startSshd();
  });

  afterAll(async () => {
    for (const client of clients) client.end();
    await server?.stop();
  });

  it('accepts the throwaway key, with a host key matching hostKeyFingerprint', async () => {
    expect(server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(server.hostPublicKey).toMatch(/^ssh-ed25519 /);
    const client = await connect(server);
    clients.push(client);
    const result = await exec(client, "printf '%s' hello");
    expect(result).toEqual({ stdout: 'hello', stderr: '', code: 0 });
  });

  it('rejects a host key that does not match', async () => {
    await expect(connect(server, { hostVerifier: () => false })).rejects.toThrow(/host key|verif/i);
  });

  it('rejects an unknown client key with an authentication error, until authorized', async () => {
    const stranger = ed25519KeyPair();
    const error = await connect(server, { privateKey: stranger.private }).then(
      (client) => {
        client.end();
        throw new Error('connected with an unauthorized key');
      },
      (rejection: Error & { level?: string }) => rejection,
    );
    expect(error.level).toBe('client-authentication');
    expect(error.message).toMatch(/authentication methods failed/i);

    await server.authorizeKey(stranger.public);
    const client = await connect(server, { privateKey: stranger.private });
    clients.push(client);
    expect((await exec(client, 'echo $((6 * 7))')).stdout).toBe('42\n');
  });

  it('stop() drops open sessions and closes the port', async () => {
    const client = await connect(server);
    clients.push(client);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await server.stop();
    await closed;
    expect(await connectionRefused(server.host, server.port)).toBe(true);
  });
});
