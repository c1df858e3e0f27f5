import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { registerFleet, waitFinished } from '../test/support/fleet.js';
import { startSshd, type SshServer } from '../test/support/sshd.js';
import { startTestApp, type TestApp } from '../test/support/app.js';

/**
 * bench/fanout: `uname -a` on N nodes through the full path (API → queue → worker → SSH → logs
 * stored → final status), against a bare ssh2 client doing the same work in the same run (the
 * floor). All nodes are names for one loopback sshd. Figures go to stdout and
 * bench/results/fanout.json; compare ratios, not absolute times (the machine is shared).
 */
const SIZES = (process.env.FANOUT_SIZES ?? '10,50,100').split(',').map(Number);
const ROUNDS = Number(process.env.FANOUT_ROUNDS ?? 3);

const RUNBOOK = `name: fanout-uname
description: uname -a everywhere
kind: diagnostic
targets: { strategy: parallel, maxParallel: 200 }
steps:
  - name: uname
    run: uname -a
`;

function bareFloor(sshd: SshServer, n: number): Promise<number> {
  const t0 = performance.now();
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const c = new Client();
          c.on('ready', () =>
            c.exec('uname -a', (err, stream) => {
              if (err) return reject(err);
              let out = '';
              stream.on('data', (d: Buffer) => (out += d.toString()));
              stream.on('close', () => {
                c.end();
                if (!out.includes('Linux')) reject(new Error('no output'));
                else resolve();
              });
            }),
          )
            .on('error', reject)
            .connect({
              host: sshd.host,
              port: sshd.port,
              username: sshd.username,
              privateKey: sshd.privateKey,
              readyTimeout: 60_000,
            });
        }),
    ),
  ).then(() => performance.now() - t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('fan-out: uname -a on N nodes', () => {
  let t: TestApp;
  let sshd: SshServer;
  let dir: string;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-'));
    writeFileSync(join(dir, 'fanout-uname.yaml'), RUNBOOK);
    t = await startTestApp({ RUNBOOKS_DIR: dir, SSH_MAX_PARALLEL: '200', LOG_LEVEL: 'silent' });
    await registerFleet(
      t,
      sshd,
      Array.from(
        { length: Math.max(...SIZES) },
        (_, i) => `node-${String(i + 1).padStart(3, '0')}`,
      ),
    );
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the table', async () => {
    const rows: Array<{ n: number; firebreakMs: number; floorMs: number; ratio: number }> = [];
    for (const n of SIZES) {
      const nodes = Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
      const fb: number[] = [];
      const floor: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        floor.push(await bareFloor(sshd, n));
        const t0 = performance.now();
        const res = await t
          .http()
          .post('/executions')
          .set('Authorization', t.adminAuth)
          .send({ runbook: 'fanout-uname', nodes });
        const done = await waitFinished(t, res.body.id as string, t.adminAuth, 300_000);
        fb.push(performance.now() - t0);
        expect(done.status).toBe('succeeded');
        const logs = await t
          .http()
          .get(`/executions/${res.body.id}/logs?limit=10000`)
          .set('Authorization', t.adminAuth);
        expect(
          (logs.body.items as Array<{ stream: string }>).filter((l) => l.stream === 'stdout'),
        ).toHaveLength(n);
      }
      rows.push({
        n,
        firebreakMs: Math.round(median(fb)),
        floorMs: Math.round(median(floor)),
        ratio: Number((median(fb) / median(floor)).toFixed(2)),
      });
    }
    const table = [
      '| nodes | Firebreak (API → queue → worker → SSH → logs → status) | bare ssh2 floor | ratio |',
      '|---:|---:|---:|---:|',
    ]
      .concat(rows.map((r) => `| ${r.n} | ${r.firebreakMs} ms | ${r.floorMs} ms | ${r.ratio}× |`))
      .join('\n');
    console.log(`\nmedian of ${ROUNDS} rounds\n${table}\n`);
    writeFileSync(
      join(import.meta.dirname, 'results', 'fanout.json'),
      JSON.stringify({ at: new Date().toISOString(), rounds: ROUNDS, rows }, null, 2) + '\n',
    );
  });
});
