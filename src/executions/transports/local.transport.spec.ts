import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { runLocal } from './local.transport.js';
import type { ExecResult } from './exec.js';
import { pids } from '../../../test/support/processes.js';

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function run(
  command: string,
  opts: Omit<Parameters<typeof runLocal>[1], 'onLine'> = {},
): Promise<ExecResult & { stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await runLocal(command, {
    ...opts,
    onLine: (stream, line) => (stream === 'stdout' ? stdout : stderr).push(line),
  });
  return { ...result, stdout, stderr };
}

describe('runLocal', () => {
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
      onLine: (_stream, line) => {
        lines.push(line);
        if (line === 'two') throw new Error('log sink down');
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('log sink down');
    expect(lines).toEqual(['one', 'two']);
  });
});
