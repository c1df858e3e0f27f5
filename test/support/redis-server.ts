import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { ensureBinary, findFreePort, killOnExit, terminate, waitForPort } from './binaries.js';

export interface RedisServer {
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;
const PORT_ATTEMPTS = 5;

/**
 * Starts a throwaway real `redis-server` on 127.0.0.1 at a free port: no persistence, its own
 * temp dir, killed when this process exits. Resolves once it answers PING. `port`: on that port
 * (e.g. to restart one stopped before), else a free one.
 */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const binary = await ensureBinary('redis-server', 'redis-server');
  // A restart on the port of one stopped before (clients reconnect to the same URL).
  if (opts.port !== undefined) return startOn(binary, opts.port);
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await findFreePort(HOST);
    try {
      return await startOn(binary, port);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function startOn(binary: string, port: number): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-redis-'));
  const child = spawn(
    binary,
    [
      '--bind',
      HOST,
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--logfile',
      '',
      '--loglevel',
      'notice',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const disarm = killOnExit(child, { dir });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  const stop = async () => {
    await terminate(child);
    disarm();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForPort(HOST, port, {
      timeoutMs: START_TIMEOUT_MS,
      gate: () => output.includes('Ready to accept connections'),
      probe: 'PING\r\n',
      ready: (received) => received.includes('+PONG'),
      abort: () => {
        if (spawnError) return spawnError;
        if (child.exitCode === null && child.signalCode === null) return undefined;
        const message = `redis-server exited (${child.exitCode ?? child.signalCode}):\n${output}`;
        return /address already in use/i.test(output)
          ? new PortInUseError(message)
          : new Error(message);
      },
    });
  } catch (error) {
    await stop();
    throw error;
  }

  child.unref();
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    stop: () => (stopping ??= stop()),
  };
}
