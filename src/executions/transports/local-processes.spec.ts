import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXECUTION_MARKER, LocalProcessRecords } from './local-processes.js';

/** A detached `sleep`, in its own group, with or without an execution's marker. */
function sleeper(marker?: string): ChildProcess {
  const child = spawn('sleep', ['60'], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH!, ...(marker ? { [EXECUTION_MARKER]: marker } : {}) },
  });
  child.unref();
  return child;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Gone, or a zombie (killed, not yet reaped by its new parent). */
const dead = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
};

/** The pid of a process that has exited (and been reaped): a dead worker. */
function deadPid(): number {
  return spawnSync('true').pid;
}

describe('LocalProcessRecords (what a dead worker left running)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-run-records-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.pid && alive(c.pid)) process.kill(c.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const writeRecord = (executionId: string, pgid: number, worker: object) => {
    mkdirSync(join(dir, executionId), { recursive: true });
    writeFileSync(join(dir, executionId, `${pgid}.json`), JSON.stringify({ worker, pgid }));
  };

  it('kills the marked processes of a dead worker, and nothing without the marker', async () => {
    const id = randomUUID();
    const marked = sleeper(id);
    const unmarked = sleeper();
    const otherExecution = sleeper(randomUUID());
    children.push(marked, unmarked, otherExecution);
    writeRecord(id, marked.pid!, { host: hostname(), pid: deadPid(), start: null });
    // The unmarked process's group is on the record too, as a reused pgid would be.
    writeRecord(id, unmarked.pid!, { host: hostname(), pid: deadPid(), start: null });

    expect(new LocalProcessRecords(dir).reapLeftovers()).toBe(1);
    await new Promise((r) => marked.once('exit', r));
    expect(alive(unmarked.pid!)).toBe(true);
    expect(alive(otherExecution.pid!)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a worker pid that now belongs to another process (other start time) counts as dead', async () => {
    const id = randomUUID();
    const marked = sleeper(id);
    children.push(marked);
    // This test process's pid, with a start time it never had: the pid was reused.
    writeRecord(id, marked.pid!, { host: hostname(), pid: process.pid, start: 1 });
    expect(new LocalProcessRecords(dir).reapLeftovers()).toBe(1);
    await new Promise((r) => marked.once('exit', r));
  });

  it('kills the whole group while its leader is the shell that was started, marker or not', async () => {
    const id = randomUUID();
    // The shell carries the marker, its child scrubs its environment (as `env -i` does).
    const shell = spawn('/bin/sh', ['-c', 'env -i /bin/sleep 60; true'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env.PATH!, [EXECUTION_MARKER]: id },
    });
    children.push(shell);
    const records = new LocalProcessRecords(dir);
    records.record(id, shell.pid!);
    const findSleep = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .find((p) => {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
            const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            return Number(f[2]) === shell.pid && Number(p) !== shell.pid;
          } catch {
            return false;
          }
        });
    let sleepPid: string | undefined;
    while (!(sleepPid = findSleep())) await new Promise((r) => setTimeout(r, 20));
    // Hand the record to a dead worker, leader start time kept.
    const file = join(dir, id, `${shell.pid}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { worker: { pid: number } };
    rec.worker.pid = deadPid();
    writeFileSync(file, JSON.stringify(rec));

    expect(records.reapLeftovers()).toBe(2);
    await new Promise((r) => shell.once('exit', r));
    // Not our child: once killed it is gone, or a zombie until init reaps it.
    for (let i = 0; i < 100 && !dead(Number(sleepPid)); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(dead(Number(sleepPid))).toBe(true);
  });

  it('a leader pid now used by another process does not make its group ours', () => {
    const id = randomUUID();
    const stranger = sleeper();
    children.push(stranger);
    writeRecord(id, stranger.pid!, {
      host: hostname(),
      pid: deadPid(),
      start: null,
    });
    const file = join(dir, id, `${stranger.pid}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...rec, leaderStart: 1 }));
    expect(new LocalProcessRecords(dir).reapLeftovers()).toBe(0);
    expect(alive(stranger.pid!)).toBe(true);
  });

  it('leaves alone what a live worker runs, and records of other hosts', () => {
    const records = new LocalProcessRecords(dir);
    const id = randomUUID();
    const mine = sleeper(id);
    const theirs = sleeper(id);
    children.push(mine, theirs);
    records.record(id, mine.pid!);
    writeRecord(id, theirs.pid!, { host: `not-${hostname()}`, pid: deadPid(), start: null });
    expect(records.reapLeftovers()).toBe(0);
    expect(alive(mine.pid!)).toBe(true);
    expect(alive(theirs.pid!)).toBe(true);
    records.forget(id, mine.pid!);
    expect(readdirSync(join(dir, id))).toEqual([`${theirs.pid}.json`]);
  });
});
