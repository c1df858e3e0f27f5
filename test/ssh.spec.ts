import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { Client, type ConnectConfig } from 'ssh2';

import type { SshTarget } from '../src/nodes/node-connection.js';
import { MAX_CONCURRENT_CHANNELS, SshSession } from '../src/executions/transports/ssh.client.js';
import { SshError } from '../src/executions/transports/ssh-errors.js';
import { SshSessionPool } from '../src/executions/transports/ssh-sessions.js';
import { Semaphore } from '../src/executions/semaphore.js';
import { wrapRemoteCommand } from '../src/executions/transports/remote-command.js';
import type { ExecResult } from '../src/executions/transports/exec.js';
import { renderShell } from '../src/runbooks/template.js';
import {
  NOISY_LOGIN_OUTPUT,
  SLOW_LOGIN_MS,
  SSH_LOGINS,
  startSshd,
  type SshServer,
} from './support/sshd.js';
import { pids } from './support/processes.js';
import { ed25519KeyPair } from './support/ssh-keys.js';

// SshSession against a real OpenSSH sshd on 127.0.0.1 (started per file): the remote processes
// run on this machine, so the tests can look at them with pgrep.

const execFileAsync = promisify(execFile);

async function waitFor<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Established client connections to the sshd port (the server side has sport = port). */
async function connectionsTo(port: number): Promise<number> {
  const { stdout } = await execFileAsync('ss', [
    '-Htn',
    'state',
    'established',
    `( dport = :${port} )`,
  ]);
  return stdout.split('\n').filter((line) => line.trim() !== '').length;
}

/** Runs a command and collects its output lines. */
async function run(
  session: SshSession,
  command: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ExecResult & { stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await session.exec(command, {
    ...opts,
    onLine: (stream, line) => (stream === 'stdout' ? stdout : stderr).push(line),
  });
  return { ...result, stdout, stderr };
}

function expectSshError(error: unknown, kind: SshError['kind']): SshError {
  expect(error).toBeInstanceOf(SshError);
  const sshError = error as SshError;
  expect(sshError.kind, sshError.message).toBe(kind);
  expect(sshError.node).toBe('test-node');
  return sshError;
}

async function connectError(
  target: SshTarget,
  opts?: Parameters<typeof SshSession.connect>[1],
): Promise<SshError> {
  const error = await SshSession.connect(target, opts).then(
    async (session) => {
      await session.close();
      return new Error('connected, but should not have');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SshError);
  return error as SshError;
}

let sshd: SshServer;
let session: SshSession;

function targetOf(server: SshServer, overrides: Partial<SshTarget> = {}): SshTarget {
  return {
    node: 'test-node',
    host: server.host,
    port: server.port,
    username: server.username,
    auth: { type: 'key', privateKey: server.privateKey },
    hostKey: { fingerprint: server.hostKeyFingerprint, trustOnFirstUse: false },
    ...overrides,
  };
}

function target(overrides: Partial<SshTarget> = {}): SshTarget {
  return targetOf(sshd, overrides);
}

/** Runs `command` as the login shell gets it, with no wrapper: what the login itself prints. */
async function rawExec(
  server: SshServer,
  command: string,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: server.host,
      port: server.port,
      username: server.username,
      privateKey: server.privateKey,
    });
  });
  try {
    return await new Promise((resolve, reject) => {
      client.exec(command, (error, channel) => {
        if (error) return reject(error);
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        channel.on('exit', (c: number | null) => (code = c));
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('close', () => resolve({ stdout, stderr, code }));
      });
    });
  } finally {
    client.end();
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  session = await SshSession.connect(target());
});

afterAll(async () => {
  await session?.close();
  await sshd?.stop();
});

describe.each(SSH_LOGINS.map((login, index) => ({ login, index })))(
  'SshSession exec on a $login login',
  ({ login, index }) => {
    // Each login has its own sshd; these shadow the file's lean one. Process markers carry the
    // index so that no two logins' leftovers could be confused.
    let sshd: SshServer;
    let session: SshSession;
    const target = (overrides: Partial<SshTarget> = {}) => targetOf(sshd, overrides);
    beforeAll(async () => {
      sshd = await startSshd({ login });
      session = await SshSession.connect(target());
    });
    afterAll(async () => {
      await session?.close();
      await sshd?.stop();
    });

    it('the login is what it says', async () => {
      const raw = await rawExec(sshd, 'echo "uid=$(id -u) pyenv=${PYENV_SHELL:-none}"');
      expect(raw.code).toBe(0);
      // No heavy rc file (root's .bashrc here sets PYENV_SHELL) runs on any of these logins.
      const noise = login === 'noisy' ? NOISY_LOGIN_OUTPUT : { stdout: '', stderr: '' };
      expect(raw.stderr).toBe(noise.stderr);
      expect(raw.stdout).toMatch(new RegExp(`^${noise.stdout}uid=\\d+ pyenv=none\n$`));
      if (login === 'nonroot') expect(raw.stdout).not.toContain('uid=0 ');
      if (login === 'slow') {
        const t0 = Date.now();
        await rawExec(sshd, 'true');
        expect(Date.now() - t0).toBeGreaterThanOrEqual(SLOW_LOGIN_MS);
      }
    });

    it('connects with the pinned host key and streams stdout and stderr with the exit code', async () => {
      expect(session.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      expect(session.learnedHostKey).toBe(false);
      expect(session.closed).toBe(false);

      const result = await run(session, 'echo out; echo err >&2; printf "no newline"; exit 3');
      expect(result.stdout).toEqual(['out', 'no newline']);
      // The wrapper's process-group line is stripped: stderr is only the command's.
      expect(result.stderr).toEqual(['err']);
      expect(result).toMatchObject({ exitCode: 3, signal: null, timedOut: false, canceled: false });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    });

    it('runs the command under /bin/sh with stdin at EOF, as the process-group leader', async () => {
      // `cat` would hang forever if stdin were left open.
      const result = await run(session, 'cat; echo "$$ $(ps -o pgid= -p $$ | tr -d " ")"', {
        timeoutMs: 5000,
      });
      expect(result.exitCode).toBe(0);
      const [pid, pgid] = result.stdout[0].split(' ');
      expect(pid).toBe(pgid);
    });

    it('reports a command killed by a signal as signal, not exit code', async () => {
      const result = await run(session, 'kill -s KILL $$');
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    });

    it('delivers every line a channel paused for backpressure still holds when the command ends', async () => {
      // One chunk per drain: stdout ('done') ends and ssh2 closes the channel while most of
      // stderr is still buffered in the paused stream.
      let room = 0;
      const backpressure = {
        isFull: () => room-- <= 0,
        whenDrained: (fn: () => void) =>
          setTimeout(() => {
            room = 1;
            fn();
          }, 2),
      };
      const stdout: string[] = [];
      const stderr: string[] = [];
      const result = await session.exec('seq 1 20000 >&2; echo done', {
        backpressure,
        onLine: (stream, line) => (stream === 'stdout' ? stdout : stderr).push(line),
      });
      expect(result.exitCode).toBe(0);
      expect(stdout).toEqual(['done']);
      expect(stderr.length).toBe(20000);
      expect(stderr.at(-1)).toBe('20000');
    });

    it('reuses one connection for sequential and 20 concurrent execs, at most a few at a time', async () => {
      const before = await connectionsTo(sshd.port);
      expect(before).toBe(1);

      // $SSH_CLIENT is "client-ip client-port server-port": one connection, one client port.
      const ports = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const result = await run(session, 'echo "$SSH_CLIENT"');
        expect(result.exitCode).toBe(0);
        ports.add(result.stdout[0].split(' ')[1]);
      }

      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          run(
            session,
            `echo "$SSH_CLIENT"; date +%s%N; sleep 0.1; date +%s%N; echo "job ${i}"; exit ${i % 4}`,
          ),
        ),
      );
      const during = await connectionsTo(sshd.port);

      results.forEach((result, i) => {
        expect(result.exitCode).toBe(i % 4);
        expect(result.stdout[3]).toBe(`job ${i}`);
        ports.add(result.stdout[0].split(' ')[1]);
      });
      expect(ports.size).toBe(1);
      expect(during).toBe(1);

      // Overlap of the [start, end] intervals, from the remote clock: concurrent, but capped.
      const events = results.flatMap((r) => [
        { t: BigInt(r.stdout[1]), d: 1 },
        { t: BigInt(r.stdout[2]), d: -1 },
      ]);
      events.sort((a, b) => (a.t === b.t ? a.d - b.d : a.t < b.t ? -1 : 1));
      let active = 0;
      let peak = 0;
      for (const event of events) peak = Math.max(peak, (active += event.d));
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(MAX_CONCURRENT_CHANNELS);
    });

    it('passes hostile template values as single words: nothing runs, nothing expands', async () => {
      const hostile = [
        'x; rm -rf / #',
        '$(id)',
        '`id`',
        'a && b',
        'a | b',
        `it's "quoted"`,
        'line1\nline2',
        '*',
        '~root',
        '--help',
        "' ; echo pwned ; '",
        '',
        '-n',
        '\\',
        '$HOME ${PATH} $((1+1))',
        '; exec sh -c "echo pwned" ;',
      ];
      const results = await Promise.all(
        hostile.map(async (v) => {
          const { text } = renderShell(`printf '%s\\n' {{ options.v }}`, { options: { v } });
          const result = await run(session, text);
          return {
            v,
            exitCode: result.exitCode,
            stderr: result.stderr,
            out: result.stdout.join('\n'),
          };
        }),
      );
      for (const result of results) {
        expect(result).toEqual({ v: result.v, exitCode: 0, stderr: [], out: result.v });
      }
    });

    it('stops the remote process on timeout, not just the wait', async () => {
      const marker = `sleep 31.7${index}`;
      const exec = run(session, `echo started; ${marker}; echo never`, { timeoutMs: 500 });
      const running = await waitFor(
        () => pids(marker),
        (p) => p.length > 0,
        450,
      );
      expect(running.length).toBeGreaterThan(0);

      const result = await exec;
      expect(result).toMatchObject({ timedOut: true, canceled: false, exitCode: null });
      expect(result.signal).toBe('SIGTERM');
      expect(result.stdout).toEqual(['started']);
      expect(result.durationMs).toBeGreaterThanOrEqual(500);
      expect(result.durationMs).toBeLessThan(2000);

      expect(
        await waitFor(
          () => pids(marker),
          (p) => p.length === 0,
          3000,
        ),
      ).toEqual([]);
      // The session stays usable.
      expect((await run(session, 'echo still here')).stdout).toEqual(['still here']);
    });

    it('stops the remote process tree on cancel (AbortController)', async () => {
      const marker = `sleep 32.3${index}`;
      const controller = new AbortController();
      // A subshell with a background child: the whole process group must go.
      const exec = run(session, `(${marker}) & ${marker} & wait`, { signal: controller.signal });
      const running = await waitFor(
        () => pids(marker),
        (p) => p.length >= 2,
        2000,
      );
      expect(running.length).toBeGreaterThanOrEqual(2);

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
    });

    it('escalates to SIGKILL after the grace period when the command ignores SIGTERM', async () => {
      const marker = `sleep 33.1${index}`;
      const s = await SshSession.connect(target(), { killGraceMs: 400 });
      try {
        const exec = run(s, `trap "" TERM; ${marker} & wait; ${marker}`, { timeoutMs: 300 });
        await waitFor(
          () => pids(marker),
          (p) => p.length > 0,
          250,
        );
        const result = await exec;
        expect(result.timedOut).toBe(true);
        expect(result.signal).toBe('SIGKILL');
        // 300 ms timeout + 400 ms grace, not much more.
        expect(result.durationMs).toBeGreaterThanOrEqual(650);
        expect(result.durationMs).toBeLessThan(2000);
        expect(await pids(marker)).toEqual([]);
      } finally {
        await s.close();
      }
    });

    it('never starts a command canceled while queued behind the channel cap', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-ssh-'));
      // The non-root login must be able to create the canary: the test is that it does not.
      await chmod(dir, 0o777);
      try {
        const canary = path.join(dir, 'ran');
        const blockers = Array.from({ length: MAX_CONCURRENT_CHANNELS }, () =>
          run(session, 'sleep 0.3'),
        );
        const controller = new AbortController();
        const queued = run(session, `touch ${canary}`, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort();
        const result = await queued;
        expect(result).toMatchObject({ canceled: true, exitCode: null });
        await Promise.all(blockers);
        await expect(stat(canary)).rejects.toMatchObject({ code: 'ENOENT' });

        // Already aborted before the call: canceled at once, nothing runs.
        const aborted = await run(session, `touch ${canary}`, { signal: AbortSignal.abort() });
        expect(aborted.canceled).toBe(true);
        await expect(stat(canary)).rejects.toMatchObject({ code: 'ENOENT' });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('rejects with the error onLine threw, after the command finished', async () => {
      const lines: string[] = [];
      const error = await session
        .exec('echo one; echo two; echo three', {
          onLine: (_stream, line) => {
            lines.push(line);
            if (line === 'two') throw new Error('log sink down');
          },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe('log sink down');
      expect(lines).toEqual(['one', 'two']);
    });

    it('reports the exit status of every fast command, however early it arrives', async () => {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => session.exec(`exit ${i % 4}`, { onLine: () => {} })),
      );
      expect(results.map((r) => r.exitCode)).toEqual(Array.from({ length: 60 }, (_, i) => i % 4));
    });
  },
);

describe('SshSession upload and remove', () => {
  for (const sftp of [true, false]) {
    it(`uploads a script, runs it and removes it (${sftp ? 'SFTP' : 'cat over exec'})`, async () => {
      const s = sftp ? session : await SshSession.connect(target(), { sftp: false });
      const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-ssh-'));
      try {
        const file = path.join(dir, "script with 'quotes' $(id).sh");
        const script = '#!/bin/sh\necho "args: $*"\necho "ünïcödé"\nexit 4\n';
        await s.upload(file, script, 0o700);
        expect(readFileSync(file, 'utf8')).toBe(script);
        expect((await stat(file)).mode & 0o7777).toBe(0o700);

        const result = await run(s, `'${file.replace(/'/g, `'\\''`)}' a b`);
        expect(result.stdout).toEqual(['args: a b', 'ünïcödé']);
        expect(result.exitCode).toBe(4);

        // Replacing an existing file also replaces its mode; default mode is 0600.
        await s.upload(file, 'second\n');
        expect(readFileSync(file, 'utf8')).toBe('second\n');
        expect((await stat(file)).mode & 0o7777).toBe(0o600);

        await s.remove(file);
        await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
        // rm -f: removing a missing file is fine.
        await s.remove(file);

        await expect(s.upload(path.join(dir, 'no-such-dir', 'x'), 'x')).rejects.toThrow(
          /upload to .* failed/,
        );
      } finally {
        if (!sftp) await s.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('SshSession private directories (where scripts are uploaded)', () => {
  const fresh = () => `/tmp/firebreak-${randomBytes(16).toString('hex')}`;

  it('are made with an exclusive mkdir -m 700 and removed with what they hold', async () => {
    const dir = fresh();
    await session.makePrivateDir(dir);
    try {
      expect((await stat(dir)).mode & 0o7777).toBe(0o700);
      await session.upload(`${dir}/script`, 'echo hi\n', 0o700);
      await session.removeDir(dir);
      await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuse a path someone planted first (a symlink, a directory), and never follow it', async () => {
    const target = await mkdtemp(path.join(os.tmpdir(), 'firebreak-planted-target-'));
    const link = fresh();
    const planted = fresh();
    await symlink(target, link);
    await mkdir(planted, { mode: 0o777 });
    try {
      await expect(session.makePrivateDir(link)).rejects.toThrow(/mkdir .* failed/);
      await expect(session.makePrivateDir(planted)).rejects.toThrow(/mkdir .* failed/);
      expect((await stat(target)).mode & 0o7777).toBe(0o700); // mkdtemp's, untouched
    } finally {
      await rm(link, { force: true });
      await rm(planted, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
    }
  });

  it('removeDir refuses anything but a Firebreak private directory, before sending a command', async () => {
    for (const bad of ['/', '/tmp', '/tmp/firebreak-', `/tmp/firebreak-${'a'.repeat(32)}/..`, '']) {
      await expect(session.removeDir(bad)).rejects.toThrow(/not a Firebreak private directory/);
    }
  });
});

describe('SshSession.connect failures', () => {
  it('auth_failed with a key the server does not accept', async () => {
    const { private: wrongKey } = ed25519KeyPair();
    const error = await connectError(target({ auth: { type: 'key', privateKey: wrongKey } }));
    expectSshError(error, 'auth_failed');
    expect(error.message).toContain(`authentication failed for user ${sshd.username}`);
  });

  it('host_key_mismatch when the pinned fingerprint differs, before any credential is offered', async () => {
    const pinned = 'SHA256:' + 'A'.repeat(43);
    const error = await connectError(
      target({ hostKey: { fingerprint: pinned, trustOnFirstUse: true } }),
    );
    expectSshError(error, 'host_key_mismatch');
    expect(error.message).toContain(`expected ${pinned}, got ${sshd.hostKeyFingerprint}`);
    expect(error.message).toContain('verify, then update the pinned key');

    // With a key the server would refuse, it is still the host key that fails: the check
    // happens during key exchange, before authentication, so nothing could have run.
    const { private: wrongKey } = ed25519KeyPair();
    const again = await connectError(
      target({
        auth: { type: 'key', privateKey: wrongKey },
        hostKey: { fingerprint: pinned, trustOnFirstUse: false },
      }),
    );
    expectSshError(again, 'host_key_mismatch');
    // And no connection was left behind (only the shared session's).
    expect(await connectionsTo(sshd.port)).toBe(1);
  });

  it('learns the host key with trust on first use when none is pinned', async () => {
    const s = await SshSession.connect(
      target({ hostKey: { fingerprint: null, trustOnFirstUse: true } }),
    );
    try {
      expect(s.learnedHostKey).toBe(true);
      expect(s.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      expect((await run(s, 'echo ok')).stdout).toEqual(['ok']);
    } finally {
      await s.close();
    }
  });

  it('host_key_unknown when none is pinned and trust on first use is off', async () => {
    const error = await connectError(
      target({ hostKey: { fingerprint: null, trustOnFirstUse: false } }),
    );
    expectSshError(error, 'host_key_unknown');
    expect(error.message).toContain('pin the key in the inventory');
    expect(error.message).toContain(sshd.hostKeyFingerprint);
  });

  it('refused on a closed port', async () => {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const error = await connectError(target({ port }));
    expectSshError(error, 'refused');
    expect(error.message).toBe(
      `test-node (127.0.0.1:${port}): connection refused — is sshd running and the port right?`,
    );
  });

  it('timed_out on a server that never sends the SSH banner, without stalling other nodes', async () => {
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const hungPort = (hung.address() as net.AddressInfo).port;
    try {
      const order: string[] = [];
      const started = Date.now();
      const hungAttempt = SshSession.connect(target({ node: 'test-node', port: hungPort }), {
        readyTimeoutMs: 800,
      }).then(
        () => {
          throw new Error('connected to the hung server');
        },
        (error: unknown) => {
          order.push('hung');
          return { error, elapsed: Date.now() - started };
        },
      );
      const good = (async () => {
        const s = await SshSession.connect(target(), { readyTimeoutMs: 800 });
        try {
          const result = await run(s, 'echo fine');
          order.push('good');
          return result;
        } finally {
          await s.close();
        }
      })();
      const [{ error, elapsed }, goodResult] = await Promise.all([hungAttempt, good]);
      expect(goodResult.stdout).toEqual(['fine']);
      expect(order).toEqual(['good', 'hung']);
      const sshError = expectSshError(error, 'timed_out');
      expect(sshError.message).toContain('timed out after 800 ms connecting');
      expect(elapsed).toBeGreaterThanOrEqual(750);
      expect(elapsed).toBeLessThan(2000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it('passes the keepalive and ready-timeout options to ssh2', async () => {
    const spy = vi.spyOn(Client.prototype, 'connect');
    try {
      const s = await SshSession.connect(target(), {
        readyTimeoutMs: 4321,
        keepaliveIntervalMs: 1234,
        keepaliveCountMax: 5,
      });
      await s.close();
      const defaults = await SshSession.connect(target());
      await defaults.close();
      const configs = spy.mock.calls.map(([config]) => config as ConnectConfig);
      expect(configs[0]).toMatchObject({
        readyTimeout: 4321,
        keepaliveInterval: 1234,
        keepaliveCountMax: 5,
      });
      expect(configs[1]).toMatchObject({
        readyTimeout: 10_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
      });
      // No agent and no default keys: only the node's credential is ever offered.
      expect(configs[0].agent).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('SshSession lifecycle', () => {
  it('close() is idempotent and later calls fail with disconnected', async () => {
    const s = await SshSession.connect(target());
    await s.close();
    await s.close();
    expect(s.closed).toBe(true);
    expectSshError(
      await s.exec('echo x', { onLine: () => {} }).catch((e: unknown) => e),
      'disconnected',
    );
    expectSshError(await s.upload('/tmp/x', 'x').catch((e: unknown) => e), 'disconnected');
  });

  it('fails in-flight commands with disconnected when the server goes away', async () => {
    const other = await startSshd();
    try {
      const s = await SshSession.connect({
        ...target(),
        port: other.port,
        auth: { type: 'key', privateKey: other.privateKey },
        hostKey: { fingerprint: other.hostKeyFingerprint, trustOnFirstUse: false },
      });
      const lines: string[] = [];
      const exec = s
        .exec('echo up; sleep 34.2', { onLine: (_s, line) => lines.push(line) })
        .catch((e: unknown) => e);
      await waitFor(
        async () => lines,
        (l) => l.length > 0,
        2000,
      );
      await other.stop();
      const error = expectSshError(await exec, 'disconnected');
      expect(error.message).toContain('connection lost');
      expect(s.closed).toBe(true);
    } finally {
      await other.stop();
    }
  });
});

describe('SshSessionPool', () => {
  it('reads the connection targets of nodes connecting together in one read; a node without one fails alone', async () => {
    const reads: string[][] = [];
    const pool = new SshSessionPool(
      {
        connectionTargets: async (ids) => {
          reads.push(ids);
          return new Map(
            ids.map((id) => [
              id,
              id === 'gone' ? new Error('node gone is disabled') : target({ node: id }),
            ]),
          );
        },
        learnHostKey: async () => undefined,
        reportHostKeyMismatch: async () => undefined,
      },
      { actorId: null, actorName: 'test' },
      () => {},
    );
    const names = ['web-1', 'web-2', 'web-3', 'gone'];
    try {
      const got = await Promise.allSettled(
        names.map((name) => pool.get({ id: name, name, hostname: sshd.host })),
      );
      expect(reads).toEqual([names]);
      expect(got.slice(0, 3).map((g) => g.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(got[3]).toMatchObject({
        status: 'rejected',
        reason: { message: 'node gone is disabled' },
      });
      const result = await (
        await pool.get({ id: 'web-2', name: 'web-2', hostname: sshd.host })
      ).exec('echo pooled', {
        onLine: () => {},
      });
      expect(result.exitCode).toBe(0);
      // Asked later (a later batch of a rolling run): read then, on its own.
      await pool.get({ id: 'web-4', name: 'web-4', hostname: sshd.host });
      expect(reads).toEqual([names, ['web-4']]);
    } finally {
      await pool.closeAll();
    }
  });
});

describe('SshSessionPool handshakes', () => {
  it('holds a connect slot from TCP connect to authenticated, at most the slots at once', async () => {
    let holding = 0;
    let peak = 0;
    class Counting extends Semaphore {
      override async use<T>(fn: () => Promise<T>): Promise<T> {
        return super.use(async () => {
          peak = Math.max(peak, ++holding);
          try {
            return await fn();
          } finally {
            holding--;
          }
        });
      }
    }
    const pool = new SshSessionPool(
      {
        connectionTargets: async (ids) => new Map(ids.map((id) => [id, target({ node: id })])),
        learnHostKey: async () => undefined,
        reportHostKeyMismatch: async () => undefined,
      },
      { actorId: null, actorName: 'test' },
      () => {},
      new Counting(2),
    );
    try {
      const names = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'a-6'];
      const sessions = await Promise.all(
        names.map((name) => pool.get({ id: name, name, hostname: sshd.host })),
      );
      expect(sessions.every((s) => !s.closed)).toBe(true);
      expect(peak).toBe(2);
    } finally {
      await pool.closeAll();
    }
  });
});

describe('wrapRemoteCommand', () => {
  it('makes a non-leader its own process group with setsid and reports the group id', async () => {
    // Spawned without `detached`, the shell shares our process group (as under an SSH server
    // that does not call setsid()): the wrapper must take the setsid branch, without forking.
    const marker = '__FIREBREAK_PGID_test__';
    const child = spawn('/bin/sh', ['-c', wrapRemoteCommand('echo "$$"; exit 7', marker)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(7);
    expect(stderr).toBe(`${marker} ${child.pid}\n`);
    expect(stdout).toBe(`${marker}\n${child.pid}\n`);
  });
});
