import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';

import type { SshTarget } from '../../nodes/node-connection.js';
import { fingerprintOf } from '../../nodes/ssh-keys.js';
import { shellQuote } from '../../runbooks/template.js';
import { Semaphore } from '../semaphore.js';
import {
  assertPrivateDir,
  LineSink,
  pauseWhenFull,
  type ExecOptions,
  type ExecResult,
} from './exec.js';
import { LineSplitter, MAX_LINE_BYTES } from './line-splitter.js';
import {
  MarkedOutput,
  REMOTE_KILL_GRACE_MS,
  remoteKillCommand,
  wrapRemoteCommand,
} from './remote-command.js';
import { classify, SshError, where } from './ssh-errors.js';

// The one place that speaks SSH (ssh2). Everything above it deals in SshTarget, SshSession and
// SshError.

export interface SshConnectOptions {
  /** Connect + handshake + authentication must finish within this. Default 10000. */
  readyTimeoutMs?: number;
  /** SSH-level keepalive interval. Default 10000; 0 disables. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as dead. Default 3. */
  keepaliveCountMax?: number;
  /** Use SFTP for upload when the server offers it (default true); false: always `cat >`. */
  sftp?: boolean;
  /** After SIGTERM to a stopped command's process group, how long before SIGKILL. Default 2000. */
  killGraceMs?: number;
}

/** Channels (execs, uploads, removes) open at once on one connection; more wait their turn. */
export const MAX_CONCURRENT_CHANNELS = 6;
/**
 * Extra channels reserved for stopping timed-out/canceled commands, so a kill never waits behind
 * the command it kills. 6 + 3 stays under OpenSSH's default MaxSessions of 10.
 */
const MAX_KILL_CHANNELS = 3;
/** A channel's exit status, recorded from the moment the channel opens. */
interface ChannelExit {
  seen: boolean;
  code: number | null;
  signal: string | null;
}

/** After the kill, how long to wait for the server to close the command's channel by itself. */
const CLOSE_GRACE_MS = 1000;
/** How long a stop waits for the wrapper to report the process group id. */
const PGID_WAIT_MS = 2000;
/** How long a finished command's paused output may take to be read to its end. */
const DRAIN_MS = 5000;

function normalizeFingerprint(value: string): string {
  const trimmed = value.trim().replace(/=+$/, '');
  return /^SHA256:/i.test(trimmed) ? `SHA256:${trimmed.slice(7)}` : `SHA256:${trimmed}`;
}

function connectConfig(
  target: SshTarget,
  readyTimeoutMs: number,
  keepaliveIntervalMs: number,
  keepaliveCountMax: number,
  hostVerifier: (key: Buffer) => boolean,
): ConnectConfig {
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    readyTimeout: readyTimeoutMs,
    keepaliveInterval: keepaliveIntervalMs,
    keepaliveCountMax,
    hostVerifier,
  };
  if (target.auth.type === 'key') {
    config.privateKey = target.auth.privateKey;
    if (target.auth.passphrase !== undefined) config.passphrase = target.auth.passphrase;
  } else {
    config.password = target.auth.password;
    // Servers that take passwords only via keyboard-interactive get it there too.
    config.tryKeyboard = true;
  }
  return config;
}

/** One SSH connection to one node, reused for many commands. */
export class SshSession {
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private failure: SshError | undefined;
  private readonly channels = new Semaphore(MAX_CONCURRENT_CHANNELS);
  private readonly killChannels = new Semaphore(MAX_KILL_CHANNELS);
  /** Rejecters of in-flight operations, failed when the connection drops. */
  private readonly inflight = new Set<(error: SshError) => void>();
  private sftpUnavailable: boolean;

  private constructor(
    private readonly client: Client,
    private readonly target: SshTarget,
    readonly hostKeyFingerprint: string,
    readonly learnedHostKey: boolean,
    useSftp: boolean,
    private readonly killGraceMs: number,
  ) {
    this.sftpUnavailable = !useSftp;
    client.on('error', (error: Error & { level?: unknown; code?: unknown }) => {
      this.failure ??= classify(error, target, 'connected', 0);
    });
    client.on('close', () => {
      this.isClosed = true;
      const error =
        this.failure ??
        new SshError(
          'disconnected',
          `${where(target)}: connection lost — the node closed it (sshd restarted, node ` +
            'rebooting or network dropped?)',
          target.node,
        );
      for (const fail of [...this.inflight]) fail(error);
    });
  }

  /**
   * Opens a connection and authenticates. Verifies the host key against the pinned fingerprint
   * (or learns it, with trust on first use) before any credential is offered. Rejects with an
   * SshError.
   */
  static async connect(target: SshTarget, opts: SshConnectOptions = {}): Promise<SshSession> {
    const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
    const keepaliveIntervalMs = opts.keepaliveIntervalMs ?? 10_000;
    const keepaliveCountMax = opts.keepaliveCountMax ?? 3;
    const pinned =
      target.hostKey.fingerprint !== null && target.hostKey.fingerprint.trim() !== ''
        ? normalizeFingerprint(target.hostKey.fingerprint)
        : null;

    let seen: string | undefined;
    let learned = false;
    let rejection: SshError | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      seen = fingerprintOf(key);
      if (pinned !== null) {
        if (seen === pinned) return true;
        rejection = new SshError(
          'host_key_mismatch',
          `${where(target)}: host key mismatch: expected ${pinned}, got ${seen} — the host was ` +
            'reinstalled or someone is intercepting; verify, then update the pinned key',
          target.node,
        );
        return false;
      }
      if (target.hostKey.trustOnFirstUse) {
        learned = true;
        return true;
      }
      rejection = new SshError(
        'host_key_unknown',
        `${where(target)}: no pinned host key and trust-on-first-use is off — pin the key in ` +
          `the inventory (the host offered ${seen})`,
        target.node,
      );
      return false;
    };

    const client = new Client();
    let config: ConnectConfig;
    try {
      config = connectConfig(
        target,
        readyTimeoutMs,
        keepaliveIntervalMs,
        keepaliveCountMax,
        hostVerifier,
      );
    } catch (error) {
      throw new SshError(
        'auth_failed',
        `${where(target)}: unusable credential: ${(error as Error).message}`,
        target.node,
      );
    }

    return new Promise<SshSession>((resolve, reject) => {
      let settled = false;
      const fail = (error: SshError) => {
        if (settled) return;
        settled = true;
        client.removeAllListeners();
        client.on('error', () => {});
        client.destroy();
        reject(error);
      };
      client.on('error', (error: Error & { level?: unknown; code?: unknown }) => {
        fail(rejection ?? classify(error, target, 'connecting', readyTimeoutMs));
      });
      client.on('close', () => {
        fail(
          rejection ??
            new SshError(
              'disconnected',
              `${where(target)}: connection closed before the session was ready`,
              target.node,
            ),
        );
      });
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        client.removeAllListeners();
        if (seen === undefined) {
          // Cannot happen with ssh2 (the verifier runs during key exchange), but never trust an
          // unverified host.
          client.on('error', () => {});
          client.destroy();
          reject(
            new SshError(
              'host_key_unknown',
              `${where(target)}: host key not verified`,
              target.node,
            ),
          );
          return;
        }
        resolve(
          new SshSession(
            client,
            target,
            seen,
            learned,
            opts.sftp !== false,
            opts.killGraceMs ?? REMOTE_KILL_GRACE_MS,
          ),
        );
      });
      try {
        client.connect(config);
        // Many small request/reply exchanges (channel opens, short commands): without this,
        // Nagle's algorithm and delayed ACKs add ~40 ms to each channel open.
        client.setNoDelay(true);
      } catch (error) {
        fail(
          new SshError(
            'auth_failed',
            `${where(target)}: unusable credential: ${(error as Error).message}`,
            target.node,
          ),
        );
      }
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Closes the connection (in-flight commands fail with `disconnected`). Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.isClosed) {
        resolve();
        return;
      }
      this.failure ??= new SshError(
        'disconnected',
        `${where(this.target)}: session closed`,
        this.target.node,
      );
      const timer = setTimeout(() => this.client.destroy(), 2000);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
    return this.closing;
  }

  private assertOpen(): void {
    if (this.isClosed || this.failure) {
      throw (
        this.failure ??
        new SshError('disconnected', `${where(this.target)}: session closed`, this.target.node)
      );
    }
  }

  /**
   * Opens an exec channel and listens for its exit status at once, in ssh2's callback: the
   * confirmation, the output, `exit-status` and the close can arrive in one read, and ssh2 emits
   * `exit` before an awaiting caller resumes — a listener attached after `await` misses it (on a
   * lean login most fast commands lost their exit code that way). Output is not lost: the
   * channel's streams buffer until read.
   */
  private openExec(command: string): Promise<{ channel: ClientChannel; exit: ChannelExit }> {
    return new Promise((resolve, reject) => {
      try {
        this.assertOpen();
        this.client.exec(command, (error, channel) => {
          if (error) {
            reject(this.failure ?? this.channelError(error));
            return;
          }
          const exit: ChannelExit = { seen: false, code: null, signal: null };
          channel.on('exit', (code: number | null, signal?: string) => {
            exit.seen = true;
            if (typeof code === 'number') exit.code = code;
            if (typeof signal === 'string') exit.signal = signal;
          });
          resolve({ channel, exit });
        });
      } catch (error) {
        reject(error instanceof SshError ? error : this.channelError(error as Error));
      }
    });
  }

  private channelError(error: Error): Error {
    if (this.isClosed) {
      return (
        this.failure ??
        new SshError('disconnected', `${where(this.target)}: connection closed`, this.target.node)
      );
    }
    return new Error(`${where(this.target)}: could not open an SSH channel: ${error.message}`);
  }

  /**
   * Runs `command` through the node's login shell (as `/bin/sh -c command`) and streams its
   * output line by line. At most MAX_CONCURRENT_CHANNELS run at once; the rest queue (the
   * timeout counts from the command's start, not from the queue). On timeout or abort, stops
   * the remote process group (SIGTERM, SIGKILL after `killGraceMs`, default 2 s, sooner if it is
   * gone) over a second channel, then closes the command's channel. Rejects with SshError
   * `disconnected` if the connection drops, or with the error `onLine` threw (after the command
   * finished; later lines are not delivered).
   */
  async exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    if (command.includes('\0')) throw new Error('command contains a NUL byte');
    this.assertOpen();
    const queuedAt = Date.now();
    const canceledResult = (): ExecResult => ({
      exitCode: null,
      signal: null,
      timedOut: false,
      canceled: true,
      durationMs: Date.now() - queuedAt,
    });
    if (!(await this.channels.acquire(opts.signal))) return canceledResult();
    try {
      if (opts.signal?.aborted) return canceledResult();
      this.assertOpen();
      return await this.run(command, opts);
    } finally {
      this.channels.release();
    }
  }

  private async run(command: string, opts: ExecOptions): Promise<ExecResult> {
    const started = Date.now();
    const marker = `__FIREBREAK_PGID_${randomBytes(6).toString('hex')}__`;
    const { channel, exit } = await this.openExec(wrapRemoteCommand(command, marker));
    // The command gets EOF on stdin at once: nothing is ever typed into it.
    channel.end();

    return new Promise<ExecResult>((resolve, reject) => {
      const sink = new LineSink(opts.onLine);
      const deliver = sink.deliver;

      // The wrapper marks where the command's output starts on each stream; before that is
      // the login shell's (rc files, warnings). Its stderr line carries the process group id.
      let pgid: number | null | undefined;
      let pgidKnown: () => void = () => {};
      const pgidReported = new Promise<void>((r) => (pgidKnown = r));
      const setPgid = (value: number | null) => {
        if (pgid !== undefined) return;
        pgid = value;
        pgidKnown();
      };
      const stdout = new MarkedOutput(marker, (line) => deliver('stdout', line));
      const stderr = new MarkedOutput(
        marker,
        (line) => deliver('stderr', line),
        (rest) => {
          const match = /^ (\d+|-)$/.exec(rest);
          setPgid(match && match[1] !== '-' ? Number(match[1]) : null);
        },
      );
      const out = new LineSplitter(stdout.line, MAX_LINE_BYTES, opts.mask);
      const err = new LineSplitter(stderr.line, MAX_LINE_BYTES, opts.mask);
      // Paused, the channel stops granting the server window: the remote command blocks on write.
      const holdIfFull = pauseWhenFull(opts.backpressure, [channel, channel.stderr]);
      channel.on('data', (chunk: Buffer) => {
        if (out.ended) return; // after a drain gave up, or a lost connection
        out.write(chunk);
        holdIfFull();
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        if (err.ended) return;
        err.write(chunk);
        holdIfFull();
      });

      let timedOut = false;
      let canceled = false;
      let stopping: Promise<void> | undefined;
      let done = false;
      let channelClosed = false;
      let closedResolve: () => void = () => {};
      const channelClosedPromise = new Promise<void>((r) => (closedResolve = r));

      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.inflight.delete(onConnectionLost);
        // A channel paused for backpressure still holds output the server sent before closing:
        // read it to the end before the command counts as done (never after: that lost lines).
        void drainChannel(error ? [] : [channel, channel.stderr]).then(() => settle(error));
      };
      const settle = (error?: Error) => {
        out.end();
        err.end();
        stdout.end();
        stderr.end();
        setPgid(null);
        if (error) {
          reject(error);
          return;
        }
        if (sink.error !== undefined) {
          reject(sink.error);
          return;
        }
        resolve({
          exitCode: exit.code,
          signal: exit.signal,
          timedOut,
          canceled,
          durationMs: Date.now() - started,
        });
      };

      const stop = () => {
        stopping ??= (async () => {
          await Promise.race([pgidReported, channelClosedPromise, delay(PGID_WAIT_MS)]);
          if (channelClosed) return;
          if (typeof pgid === 'number') {
            try {
              await this.killGroup(pgid);
            } catch {
              // Connection trouble: fall through to channel signals; a dead connection makes
              // sshd hang up the session (and SIGHUP its process group) anyway.
              channel.signal('KILL');
            }
          } else {
            // No process group to kill: ask sshd (honoured by OpenSSH >= 7.9 only).
            channel.signal('TERM');
          }
          await Promise.race([channelClosedPromise, delay(CLOSE_GRACE_MS)]);
          if (!channelClosed) {
            channel.close();
            await Promise.race([channelClosedPromise, delay(CLOSE_GRACE_MS)]);
            if (!channelClosed) finish();
          }
        })();
      };

      const timer =
        opts.timeoutMs !== undefined
          ? setTimeout(() => {
              if (canceled || done) return;
              timedOut = true;
              stop();
            }, opts.timeoutMs)
          : undefined;
      const onAbort = () => {
        if (timedOut || done) return;
        canceled = true;
        stop();
      };
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort, { once: true });

      const onConnectionLost = (error: SshError) => {
        channelClosed = true;
        closedResolve();
        finish(error);
      };
      this.inflight.add(onConnectionLost);

      channel.on('close', () => {
        channelClosed = true;
        closedResolve();
        // ssh2 also closes channels when the connection dies: that is not a command result.
        if (this.isClosed && !exit.seen) {
          finish(
            this.failure ??
              new SshError(
                'disconnected',
                `${where(this.target)}: connection lost while running the command`,
                this.target.node,
              ),
          );
          return;
        }
        finish();
      });
    });
  }

  /** Stops a remote process group over its own channel (not subject to the channel cap). */
  private async killGroup(pgid: number): Promise<void> {
    await this.killChannels.acquire();
    try {
      const { channel } = await this.openExec(remoteKillCommand(pgid, this.killGraceMs));
      channel.end();
      await new Promise<void>((resolve) => {
        channel.resume();
        channel.stderr.resume();
        channel.on('close', () => resolve());
      });
    } finally {
      this.killChannels.release();
    }
  }

  /** Runs a short helper command; resolves with its exit code and (capped) stderr. */
  private async helper(
    command: string,
    stdin?: string,
  ): Promise<{ code: number | null; stderr: string }> {
    await this.channels.acquire();
    try {
      this.assertOpen();
      const { channel, exit } = await this.openExec(command);
      return await new Promise((resolve, reject) => {
        let stderr = '';
        const onConnectionLost = (error: SshError) => reject(error);
        this.inflight.add(onConnectionLost);
        channel.resume();
        channel.stderr.on('data', (chunk: Buffer) => {
          if (stderr.length < 4000) stderr += chunk.toString('utf8');
        });
        channel.on('close', () => {
          this.inflight.delete(onConnectionLost);
          if (this.isClosed && exit.code === null) {
            reject(
              this.failure ??
                new SshError(
                  'disconnected',
                  `${where(this.target)}: connection lost`,
                  this.target.node,
                ),
            );
          } else {
            resolve({ code: exit.code, stderr: stderr.trim() });
          }
        });
        channel.end(stdin);
      });
    } finally {
      this.channels.release();
    }
  }

  /**
   * Writes `content` to `remotePath` with `mode` (default 0600), replacing the file. Uses SFTP
   * when the server offers it, else `cat >` over an exec channel. The mode is applied before
   * the content is written, so a secret never sits in a world-readable file.
   */
  async upload(remotePath: string, content: string, mode = 0o600): Promise<void> {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Error(`bad mode ${mode}`);
    if (remotePath === '' || remotePath.includes('\0')) throw new Error('bad remote path');
    this.assertOpen();
    if (!this.sftpUnavailable) {
      let sftp: SFTPWrapper | undefined;
      await this.channels.acquire();
      try {
        sftp = await this.openSftp();
        if (sftp) {
          await sftpUpload(sftp, remotePath, content, mode).catch((error: Error) => {
            throw new Error(
              `${where(this.target)}: upload to ${remotePath} failed: ${error.message}`,
            );
          });
          return;
        }
      } finally {
        sftp?.end();
        this.channels.release();
      }
    }
    const octal = mode.toString(8);
    const path = shellQuote(remotePath);
    const script = `chmod 600 ${path} 2>/dev/null; umask 077; cat > ${path} && chmod ${octal} ${path}`;
    const { code, stderr } = await this.helper(`exec /bin/sh -c ${shellQuote(script)}`, content);
    if (code !== 0) {
      throw new Error(
        `${where(this.target)}: upload to ${remotePath} failed (exit ${code}): ${stderr}`,
      );
    }
  }

  /**
   * Creates the directory `remotePath` with mode 0700. `mkdir` is exclusive: it fails if
   * anything (a file, a directory, a symlink another user planted) is already there, so what is
   * written inside afterwards is out of every other local user's reach.
   */
  async makePrivateDir(remotePath: string): Promise<void> {
    assertPrivateDir(remotePath);
    this.assertOpen();
    const { code, stderr } = await this.helper(`mkdir -m 700 -- ${shellQuote(remotePath)}`);
    if (code !== 0) {
      throw new Error(
        `${where(this.target)}: mkdir ${remotePath} failed (exit ${code}): ${stderr}`,
      );
    }
  }

  /** Deletes a directory `makePrivateDir` made, with what is in it. */
  async removeDir(remotePath: string): Promise<void> {
    assertPrivateDir(remotePath);
    this.assertOpen();
    const { code, stderr } = await this.helper(`rm -rf -- ${shellQuote(remotePath)}`);
    if (code !== 0) {
      throw new Error(
        `${where(this.target)}: rm -rf ${remotePath} failed (exit ${code}): ${stderr}`,
      );
    }
  }

  /** Deletes `remotePath` (`rm -f`: a missing file is fine). */
  async remove(remotePath: string): Promise<void> {
    if (remotePath === '' || remotePath.includes('\0')) throw new Error('bad remote path');
    this.assertOpen();
    const { code, stderr } = await this.helper(`rm -f -- ${shellQuote(remotePath)}`);
    if (code !== 0) {
      throw new Error(
        `${where(this.target)}: rm -f ${remotePath} failed (exit ${code}): ${stderr}`,
      );
    }
  }

  /** An SFTP session, or undefined (remembered) when the server has no SFTP subsystem. */
  private openSftp(): Promise<SFTPWrapper | undefined> {
    return new Promise((resolve, reject) => {
      this.assertOpen();
      this.client.sftp((error, sftp) => {
        if (!error) {
          resolve(sftp);
          return;
        }
        if (this.isClosed) {
          reject(this.failure ?? this.channelError(error));
          return;
        }
        this.sftpUnavailable = true;
        resolve(undefined);
      });
    });
  }
}

function sftpUpload(
  sftp: SFTPWrapper,
  remotePath: string,
  content: string,
  mode: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // Tighten an existing file first (ENOENT is fine), then write, then set the final mode.
    sftp.chmod(remotePath, 0o600, () => {
      sftp.writeFile(remotePath, content, { mode: 0o600, flag: 'w' }, (writeError) => {
        if (writeError) {
          reject(writeError);
          return;
        }
        sftp.chmod(remotePath, mode, (chmodError) => (chmodError ? reject(chmodError) : resolve()));
      });
    });
  });
}

/** A timer that does not keep the process alive (it only bounds a wait). */
/**
 * Lets paused `streams` flow to their end (ssh2 closes a channel once stdout ended, while stderr
 * may still hold output); gives up after DRAIN_MS on a stream that never ends.
 */
function drainChannel(streams: ReadonlyArray<Readable>): Promise<void> {
  const pending = streams
    .filter((s) => !s.readableEnded && !s.destroyed)
    .map(
      (s) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, DRAIN_MS);
          s.once('end', () => {
            clearTimeout(timer);
            resolve();
          });
          s.resume();
        }),
    );
  return Promise.all(pending).then(() => undefined);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
