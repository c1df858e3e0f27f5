import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { runLocal } from './local.transport.js';
import { LocalSpawner } from './spawner.js';

/** Polls `probe` until it holds (generous deadline: the machine may be loaded). */
async function until(what: string, probe: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The parent pid of `pid` (/proc/<pid>/stat field 4). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('LocalSpawner: local commands spawned from a small helper process', () => {
  const spawner = new LocalSpawner();
  afterAll(() => spawner.close());

  it('spawns from its helper, not from this process; the command is in its own session', async () => {
    let pgid: number | undefined;
    const lines: string[] = [];
    const result = await runLocal('echo "$$ $(ps -o sid= -p $$)"', {
      spawner,
      onLine: (_s, l) => lines.push(l),
      track: { executionId: 'x', started: (p) => (pgid = p), ended: () => undefined },
    });
    expect(result.exitCode).toBe(0);
    const [pid, sid] = lines[0].trim().split(/\s+/).map(Number);
    expect(pid).toBe(pgid);
    expect(sid).toBe(pid); // detached: a session (and group) of its own
    expect(spawner.pid).toBeDefined();
    expect(spawner.pid).not.toBe(process.pid);
    // Its parent was the helper (checked while it runs).
    let parent: number | undefined;
    await runLocal('sleep 0.2', {
      spawner,
      onLine: () => undefined,
      track: {
        executionId: 'x',
        started: (p) => (parent = parentOf(p)),
        ended: () => undefined,
      },
    });
    expect(parent).toBe(spawner.pid);
  });

  it(
    'a helper that dies: its commands are stopped and fail, the next command starts a new helper',
    { timeout: 60_000 },
    async () => {
      const before = spawner.starts;
      const lines: string[] = [];
      let pgid: number | undefined;
      const running = runLocal('echo started; sleep 600', {
        spawner,
        onLine: (_s, l) => lines.push(l),
        track: { executionId: 'x', started: (p) => (pgid = p), ended: () => undefined },
      });
      const failed = running.then(
        () => new Error('the command did not fail'),
        (e: unknown) => e as Error,
      );
      await until('the first line', () => lines.length > 0);
      const helper = spawner.pid!;
      process.kill(helper, 'SIGKILL');
      expect((await failed).message).toMatch(
        /local spawner process exited \(SIGKILL\): the command was stopped/,
      );
      await until('the orphaned command to be killed', () => !groupAlive(pgid!));

      const again: string[] = [];
      const result = await runLocal('echo again', { spawner, onLine: (_s, l) => again.push(l) });
      expect(result.exitCode).toBe(0);
      expect(again).toEqual(['again']);
      expect(spawner.starts).toBe(before + 1);
      expect(spawner.pid).not.toBe(helper);
    },
  );

  it(
    'the helper exits when its worker is killed; the command it started lives on',
    { timeout: 60_000 },
    async () => {
      // A worker: a Node process with a spawner that starts `sleep 600` and reports the pids.
      // (spawner.ts imports only Node, so Node runs it as it is.)
      const spawnerUrl = new URL('./spawner.ts', import.meta.url).href;
      const worker = spawn(
        process.execPath,
        [
          '--no-warnings',
          '--input-type=module',
          '-e',
          `const { LocalSpawner } = await import(${JSON.stringify(spawnerUrl)});
         const s = new LocalSpawner();
         s.spawn({ command: 'sleep 600', env: { PATH: process.env.PATH } }, {
           spawned: (pgid) => process.send({ helper: s.pid, pgid }),
           data() {}, close() {}, error() {},
         });`,
        ],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      const { helper, pgid } = await new Promise<{ helper: number; pgid: number }>((resolve) =>
        worker.once('message', (m) => resolve(m as { helper: number; pgid: number })),
      );
      try {
        expect(alive(helper)).toBe(true);
        worker.kill('SIGKILL');
        await until('the helper to exit', () => !alive(helper));
        // As when the worker spawned it itself: left for the leftover reaper.
        expect(groupAlive(pgid)).toBe(true);
      } finally {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
  );
});
