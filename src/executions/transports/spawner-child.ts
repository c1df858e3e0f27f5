// The local spawner's own process (see spawner.ts): small and long-lived, so that starting a
// local command forks this process, not the large worker (a fork is synchronous and costs with
// the forking process's memory). Node modules only, erasable TypeScript only: the worker runs
// this file as it is (Node strips the types) or as compiled JavaScript from dist/.
//
// Keeps POOL pairs of sockets connected to the worker's private Unix socket (argv[2]), each
// named by its first line ("<pair> o\n", "<pair> e\n"). For each request from the worker (IPC):
// start `/bin/sh -c command` with a ready pair as its stdout and stderr, in its own session, as
// the uid/gid asked for, then drop this process's copies: the command writes straight to the
// worker, nothing is relayed here. Tells the worker the pid and the pair, then the exit status.
// When the worker goes away (its IPC channel closes), the commands still running are stopped
// (SIGKILL to their groups) and this process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

interface SpawnMessage {
  t: 'spawn';
  id: number;
  command: string;
  cwd?: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

const socketPath = process.argv[2];
const running = new Map<number, ChildProcess>();

function reply(message: Record<string, unknown>): void {
  if (process.connected) process.send!(message);
}

function named(pair: number, stream: 'o' | 'e'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`${pair} ${stream}\n`, (error) => {
        if (error) reject(error);
        else {
          socket.off('error', reject);
          resolve(socket);
        }
      });
    });
  });
}

/** Named socket pairs connected ahead of time, so a spawn waits for no connection. */
const POOL = 2;
const pool: Array<{ pair: number; sockets: Socket[] }> = [];
let nextPair = 0;
let filling = 0;

async function pairOf(): Promise<{ pair: number; sockets: Socket[] }> {
  const pair = ++nextPair;
  return { pair, sockets: await Promise.all([named(pair, 'o'), named(pair, 'e')]) };
}

function refill(): void {
  while (pool.length + filling < POOL) {
    filling++;
    pairOf().then(
      (p) => {
        filling--;
        pool.push(p);
      },
      () => filling--,
    );
  }
}

function start(m: SpawnMessage, ready: { pair: number; sockets: Socket[] }): void {
  const { pair, sockets } = ready;
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', m.command], {
      cwd: m.cwd,
      env: m.env,
      detached: true,
      stdio: ['ignore', sockets[0], sockets[1]],
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.gid !== undefined ? { gid: m.gid } : {}),
    });
  } catch (error) {
    for (const s of sockets) s.destroy();
    const e = error as NodeJS.ErrnoException;
    reply({ t: 'error', id: m.id, message: e.message, code: e.code });
    return;
  }
  // The command has its own copies; ours would keep the worker's ends from ever ending.
  for (const s of sockets) s.destroy();
  child.once('error', (error: NodeJS.ErrnoException) => {
    running.delete(m.id);
    reply({ t: 'error', id: m.id, message: error.message, code: error.code });
  });
  if (child.pid === undefined) return; // 'error' follows
  running.set(m.id, child);
  reply({ t: 'spawned', id: m.id, pid: child.pid, pair });
  child.once('exit', (code, signal) => {
    running.delete(m.id);
    reply({ t: 'exit', id: m.id, code, signal });
  });
}

function onSpawn(m: SpawnMessage): void {
  const ready = pool.shift();
  if (ready) {
    start(m, ready);
    refill();
    return;
  }
  pairOf().then(
    (p) => start(m, p),
    (error: Error) => reply({ t: 'error', id: m.id, message: error.message }),
  );
}

process.on('message', (m: SpawnMessage) => {
  if (m?.t === 'spawn') onSpawn(m);
});

process.on('disconnect', () => {
  for (const child of running.values()) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
});

refill();
reply({ t: 'ready' });
