import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { stat } from 'node:fs/promises';

import { runLocal } from './local.transport.js';
import type { ExecResult } from './exec.js';
import { LocalSpawner } from './spawner.js';
import { pids } from '../../../test/support/processes.js';

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Every behaviour holds both ways a command can start: forked here, and from the spawner.
describe.each(['inline', 'helper'] as const)('runLocal (%s)', (how) => {
  const spawner = how === 'helper' ? new LocalSpawner() : undefined;
  afterAll(() => spawner?.close());

  async function run(
    command: string,
    opts: Omit<Parameters<typeof runLocal>[1], 'onLine'> = {},
  ): Promise<ExecResult & { stdout: string[]; stderr: string[] }> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const result = await runLocal(command, {
      spawner,
      ...opts,
      onLine: (stream, line) => (stream === 'stdout' ? stdout : stderr).push(line),
    });
    return { ...result, stdout, stderr };
  }

  it('streams stdout and stderr lines and reports the exit code', async () => {
    const result = await run('echo out; echo err >&2; printf "partial"; exit 3');
    expect(result.stdout).toEqual(['out', 'partial']);
    expect(result.stderr).toEqual(['err']);
    expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false, canceled: false });
    expect((await run('true')).exitCode).toBe(0);
  });

  it('reports death by signal', async () => {
    const result = await run('kill -s KILL $$');
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('runs in cwd with env, without leaking the service environment', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-local-'));
    process.env.FIREBREAK_TEST_SECRET = 'hunter2';
    try {
      const result = await run('pwd; echo "[$FOO] [$FIREBREAK_TEST_SECRET]"; command -v sh', {
        cwd: dir,
        env: { FOO: 'bar baz' },
      });
      expect(result.stdout[0]).toBe(await realpath(dir));
      expect(result.stdout[1]).toBe('[bar baz] []');
      expect(result.stdout[2]).toMatch(/\/sh$/); // PATH is passed through
    } finally {
      delete process.env.FIREBREAK_TEST_SECRET;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives the command EOF on stdin', async () => {
    expect((await run('cat; echo done', { timeoutMs: 5000 })).stdout).toEqual(['done']);
  });

  it('timeout kills the whole process group, children included', async () => {
    const marker = 'sleep 31.9';
    // Only the grandchild `sleep` itself, not the shells whose command lines mention it.
    const sleeper = '^sleep 31[.]9$';
    const exec = run(`sh -c '${marker} & wait'`, { timeoutMs: 300 });
    const running = await waitFor(
      () => pids(sleeper),
      (p) => p.length > 0,
      280,
    );
    expect(running).toHaveLength(1);
    const result = await exec;
    expect(result).toMatchObject({ timedOut: true, canceled: false, exitCode: null });
    expect(result.signal).toBe('SIGTERM');
    expect(result.durationMs).toBeGreaterThanOrEqual(300);
    expect(result.durationMs).toBeLessThan(1500);
    const left = await waitFor(
      () => pids(sleeper),
      (p) => p.length === 0,
      3000,
    );
    expect(left).toEqual([]);
    expect(await pids(marker)).toEqual([]);
  });

  it('cancel via AbortSignal kills the process group; an aborted signal never starts it', async () => {
    const marker = 'sleep 32.9';
    const controller = new AbortController();
    const exec = run(`(${marker}) & ${marker} & wait`, { signal: controller.signal });
    await waitFor(
      () => pids(marker),
      (p) => p.length >= 2,
      1000,
    );
    controller.abort();
    const result = await exec;
    expect(result).toMatchObject({ canceled: true, timedOut: false });
    expect(
      await waitFor(
        () => pids(marker),
        (p) => p.length === 0,
        3000,
      ),
    ).toEqual([]);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-local-'));
    try {
      const aborted = await run('touch ran', { cwd: dir, signal: AbortSignal.abort() });
      expect(aborted).toMatchObject({ canceled: true, exitCode: null, durationMs: 0 });
      expect((await run('ls', { cwd: dir })).stdout).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SIGKILLs a group that ignores SIGTERM after the grace period', async () => {
    const marker = 'sleep 33.9';
    const exec = run(`trap "" TERM; ${marker} & wait; ${marker}`, {
      timeoutMs: 200,
      killGraceMs: 300,
    });
    await waitFor(
      () => pids(marker),
      (p) => p.length > 0,
      180,
    );
    const result = await exec;
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(result.durationMs).toBeGreaterThanOrEqual(500);
    expect(result.durationMs).toBeLessThan(1500);
    expect(
      await waitFor(
        () => pids(marker),
        (p) => p.length === 0,
        1000,
      ),
    ).toEqual([]);
  });

  it('rejects with the error onLine threw, after the command finished', async () => {
    const lines: string[] = [];
    const error = await runLocal('echo one; echo two; echo three', {
      spawner,
      onLine: (_stream, line) => {
        lines.push(line);
        if (line === 'two') throw new Error('log sink down');
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('log sink down');
    expect(lines).toEqual(['one', 'two']);
  });

  it('300 quick commands in a row: the output and exit code of each, none left hanging', async () => {
    // The spawner's race: a command that ends before its sockets are handed over (its EOF
    // arrives with their names) must still end its run.
    for (let i = 0; i < 300; i++) {
      const command = i % 3 === 0 ? 'true' : i % 3 === 1 ? 'echo dispatched' : 'exit 3';
      const result = await run(command);
      expect(result.exitCode).toBe(i % 3 === 2 ? 3 : 0);
      expect(result.stdout).toEqual(i % 3 === 1 ? ['dispatched'] : []);
    }
  });

  it('a working directory that does not exist fails the start with ENOENT', async () => {
    const error = await run('true', { cwd: '/nonexistent/firebreak' }).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('streams a large output in full, in order, pausing while the consumer is full', async () => {
    let queued = 0;
    let waiter: (() => void) | undefined;
    let pauses = 0;
    const lines: string[] = [];
    const result = await runLocal('seq 1 200000', {
      spawner,
      onLine: (_stream, line) => {
        lines.push(line);
        queued++;
      },
      backpressure: {
        isFull: () => queued >= 5000,
        whenDrained: (fn) => {
          pauses++;
          waiter = fn;
          setTimeout(() => {
            queued = 0;
            waiter?.();
          }, 5);
        },
      },
    });
    expect(result.exitCode).toBe(0);
    expect(lines).toHaveLength(200000);
    expect(lines[0]).toBe('1');
    expect(lines[199999]).toBe('200000');
    expect(lines.every((l, i) => l === String(i + 1))).toBe(true);
    expect(pauses).toBeGreaterThan(0);
  });
});

describe('LocalSpawner', () => {
  it('a helper that cannot start: the command is forked here, the warning says why', async () => {
    const warnings: string[] = [];
    const spawner = new LocalSpawner({
      socketParent: '/nonexistent/firebreak',
      warn: (m) => warnings.push(m),
    });
    try {
      const lines: string[] = [];
      const result = await runLocal('echo still runs; exit 4', {
        spawner,
        onLine: (_s, line) => lines.push(line),
      });
      expect(result.exitCode).toBe(4);
      expect(lines).toEqual(['still runs']);
      expect((await runLocal('true', { spawner, onLine: () => {} })).exitCode).toBe(0);
      expect(warnings).toHaveLength(1); // not retried for every command
      expect(warnings[0]).toMatch(/the local spawner could not start \(ENOENT/);
    } finally {
      await spawner.close();
    }
  });

  it('keeps its socket in a directory only this user may enter', async () => {
    const spawner = new LocalSpawner();
    try {
      await runLocal('true', { spawner, onLine: () => {} });
      const dir = (spawner as unknown as { dir: string }).dir;
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    } finally {
      await spawner.close();
    }
  });

  it('a helper that dies fails the commands it watched, naming it; the next command starts a new one', async () => {
    const spawner = new LocalSpawner();
    try {
      const marker = 'sleep 35.9';
      const exec = runLocal(`${marker}`, { spawner, onLine: () => {} });
      await waitFor(
        () => pids(`^${marker.replace('.', '[.]')}$`),
        (p) => p.length > 0,
        2000,
      );
      const helper = (spawner as unknown as { helper: { pid: number } }).helper;
      process.kill(helper.pid, 'SIGKILL');
      const error = await exec.catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/the local spawner process exited \(SIGKILL\)/);
      const again = await runLocal('echo again', { spawner, onLine: () => {} });
      expect(again.exitCode).toBe(0);
      // What the dead helper started was in its own session; stop it here.
      for (const pid of await pids(`^${marker.replace('.', '[.]')}$`)) process.kill(pid, 'SIGKILL');
    } finally {
      await spawner.close();
    }
  });

  it('closing it stops the commands still running (the worker is going away)', async () => {
    const spawner = new LocalSpawner();
    const marker = 'sleep 36.9';
    const sleeper = `^${marker.replace('.', '[.]')}$`;
    const exec = runLocal(`${marker} & ${marker}`, { spawner, onLine: () => {} }).catch(
      (e: unknown) => e,
    );
    await waitFor(
      () => pids(sleeper),
      (p) => p.length >= 2,
      2000,
    );
    await spawner.close();
    expect(
      await waitFor(
        () => pids(sleeper),
        (p) => p.length === 0,
        3000,
      ),
    ).toEqual([]);
    expect(((await exec) as Error).message).toMatch(/the local spawner process exited/);
  });
});
