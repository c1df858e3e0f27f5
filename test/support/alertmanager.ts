import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBinary, findFreePort, killOnExit, terminate, waitForPort } from './binaries.js';

export interface Alertmanager {
  url: string;
  /** POST /api/v2/alerts: what Prometheus does. */
  post(alerts: Array<Record<string, unknown>>): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * Starts the real Debian `prometheus-alertmanager` on a free loopback port with `config` (YAML),
 * no clustering, its own temp storage, killed when this process exits. Resolves once /-/ready
 * answers 200.
 */
export async function startAlertmanager(config: string): Promise<Alertmanager> {
  const binary = await ensureBinary('prometheus-alertmanager', 'prometheus-alertmanager');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-alertmanager-'));
  await writeFile(path.join(dir, 'alertmanager.yml'), config);
  const port = await findFreePort(HOST);
  const child = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${HOST}:${port}`,
      '--cluster.listen-address=',
      '--log.level=info',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const disarm = killOnExit(child, { dir });
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-16_000));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const stop = async () => {
    await terminate(child);
    disarm();
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://${HOST}:${port}`;
  try {
    await waitForPort(HOST, port, {
      timeoutMs: 20_000,
      gate: () => /Listening on|listening/i.test(output),
      probe: 'GET /-/ready HTTP/1.0\r\n\r\n',
      ready: (r) => r.startsWith('HTTP/1.0 200') || r.startsWith('HTTP/1.1 200'),
      abort: () =>
        child.exitCode !== null || child.signalCode !== null
          ? new Error(`alertmanager exited (${child.exitCode ?? child.signalCode}):\n${output}`)
          : undefined,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async post(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (res.status !== 200)
        throw new Error(`alertmanager: ${res.status} ${await res.text()}\n${output}`);
    },
    stop,
  };
}
