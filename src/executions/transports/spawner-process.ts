// The local spawner's own process (see spawner.ts): started by a worker with an IPC channel,
// it spawns local commands on request and relays their output. It imports nothing but Node
// itself and uses only erasable TypeScript, so Node runs this file as it is (type stripping)
// in development and tests, and its compiled .js in dist/.
import { spawn, type ChildProcess } from 'node:child_process';

interface SpawnRequest {
  t: 'spawn';
  id: number;
  command: string;
  cwd?: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}
type Request =
  SpawnRequest | { t: 'pause' | 'resume'; id: number } | { t: 'ack'; id: number; bytes: number };

const children = new Map<number, ChildProcess>();
/**
 * Output bytes of a child sent and not yet acknowledged by the worker: past WINDOW its pipes
 * are not read (the command blocks on write) until the worker has taken what it was sent, so a
 * pause the worker asks for stops the output within WINDOW bytes, however slow the channel.
 */
const WINDOW = 256 * 1024;
const unacked = new Map<number, number>();
/** Children the worker asked to pause (its log queue is full). */
const pausedByWorker = new Set<number>();

function send(message: unknown): void {
  if (process.connected) process.send!(message);
}

function pauseChild(c: ChildProcess): void {
  c.stdout?.pause();
  c.stderr?.pause();
}

function resumeChild(c: ChildProcess): void {
  c.stdout?.resume();
  c.stderr?.resume();
}

function maybeResume(id: number): void {
  const c = children.get(id);
  if (c && !pausedByWorker.has(id) && (unacked.get(id) ?? 0) < WINDOW) resumeChild(c);
}

function start(r: SpawnRequest): void {
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', r.command], {
      cwd: r.cwd,
      env: r.env,
      // Its own session and process group: a timeout or cancel signals the whole group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(r.uid !== undefined && r.gid !== undefined ? { uid: r.uid, gid: r.gid } : {}),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    send({ t: 'error', id: r.id, message: e.message, code: e.code });
    return;
  }
  children.set(r.id, child);
  unacked.set(r.id, 0);
  send({ t: 'spawned', id: r.id, pid: child.pid });
  const relay = (fd: 1 | 2) => (chunk: Buffer) => {
    const n = (unacked.get(r.id) ?? 0) + chunk.length;
    unacked.set(r.id, n);
    send({ t: 'data', id: r.id, fd, chunk });
    if (n >= WINDOW) pauseChild(child);
  };
  child.stdout!.on('data', relay(1));
  child.stderr!.on('data', relay(2));
  let failed = false;
  child.once('error', (e: NodeJS.ErrnoException) => {
    failed = true;
    forget(r.id);
    send({ t: 'error', id: r.id, message: e.message, code: e.code });
  });
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    forget(r.id);
    if (!failed) send({ t: 'close', id: r.id, code, signal });
  });
}

function forget(id: number): void {
  children.delete(id);
  unacked.delete(id);
  pausedByWorker.delete(id);
}

process.on('message', (r: Request) => {
  if (r.t === 'spawn') return start(r);
  const c = children.get(r.id);
  if (!c) return;
  if (r.t === 'ack') {
    unacked.set(r.id, (unacked.get(r.id) ?? 0) - r.bytes);
    maybeResume(r.id);
  } else if (r.t === 'pause') {
    pausedByWorker.add(r.id);
    pauseChild(c);
  } else {
    pausedByWorker.delete(r.id);
    maybeResume(r.id);
  }
});
// The worker is gone (exited, killed): so is this. What it started lives on in its own
// session, recorded for the leftover reaper, as when the worker spawned it itself.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
