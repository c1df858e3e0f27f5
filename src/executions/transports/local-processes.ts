import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * Local commands are started in their own session (so a timeout can kill the whole group), which
 * also means they outlive a worker that is killed (`kill -9`, OOM). So each one is written down
 * while it runs — `DATA_DIR/run/<executionId>/<pgid>.json`, naming the worker (host, pid, start
 * time) — and carries `FIREBREAK_EXECUTION=<executionId>` in its environment. A reaper on the
 * same host (`reapLeftovers`) finds records whose worker is gone and kills the processes that
 * carry that execution's marker, and the whole group when its leader is still the shell that was
 * started (same pid and start time), so a reused pid is never signalled.
 */

/** The environment variable every local command of an execution carries. */
export const EXECUTION_MARKER = 'FIREBREAK_EXECUTION';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface WorkerId {
  host: string;
  pid: number;
  /** Start time of the process, in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: number | null;
}

interface ProcStat {
  pgrp: number;
  start: number;
}

/** Fields of /proc/<pid>/stat after the command name (which may itself contain spaces and ')'). */
function procStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): pgrp is field 5, starttime field 22.
    return { pgrp: Number(f[2]), start: Number(f[19]) };
  } catch {
    return null;
  }
}

function hasMarker(pid: number, executionId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .includes(`${EXECUTION_MARKER}=${executionId}`);
  } catch {
    return false;
  }
}

function me(): WorkerId {
  return { host: hostname(), pid: process.pid, start: procStat(process.pid)?.start ?? null };
}

function alive(w: WorkerId): boolean {
  const st = procStat(w.pid);
  return st !== null && (w.start === null || st.start === w.start);
}

export class LocalProcessRecords {
  private readonly self = me();

  /** `dir`: DATA_DIR/run. */
  constructor(private readonly dir: string) {}

  /** Writes down a process group an execution started on this host (before anything else runs). */
  record(executionId: string, pgid: number): void {
    if (!UUID_RE.test(executionId)) return;
    const d = join(this.dir, executionId);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    // The leader's start time tells it from a later process that gets the same pid.
    const leaderStart = procStat(pgid)?.start ?? null;
    writeFileSync(
      join(d, `${pgid}.json`),
      JSON.stringify({ worker: this.self, pgid, leaderStart }),
      { mode: 0o600 },
    );
  }

  /** The group is gone (or was stopped): nothing left to clean up for it. */
  forget(executionId: string, pgid: number): void {
    if (!UUID_RE.test(executionId)) return;
    const d = join(this.dir, executionId);
    try {
      unlinkSync(join(d, `${pgid}.json`));
      rmdirSync(d);
    } catch {
      // already gone, or other groups of the execution still recorded
    }
  }

  /**
   * Kills what dead workers on this host left running: for every record whose worker process
   * is gone (pid absent, or reused: another start time), SIGKILL to each process that carries
   * that execution's marker. Returns how many processes were killed.
   */
  reapLeftovers(): number {
    let killed = 0;
    let executions: string[];
    try {
      executions = readdirSync(this.dir).filter((n) => UUID_RE.test(n));
    } catch {
      return 0;
    }
    for (const executionId of executions) {
      const d = join(this.dir, executionId);
      let stale = false;
      const groups = new Set<number>();
      for (const file of safeReaddir(d)) {
        let rec: { worker: WorkerId; pgid: number; leaderStart?: number | null };
        try {
          rec = JSON.parse(readFileSync(join(d, file), 'utf8')) as typeof rec;
        } catch {
          continue;
        }
        if (rec.worker.host !== this.self.host || alive(rec.worker)) continue;
        stale = true;
        // The group's leader is still the shell we started (same pid, same start time): all of
        // its group is ours, even what dropped the marker from its environment (`env -i`).
        if (rec.leaderStart != null && procStat(rec.pgid)?.start === rec.leaderStart)
          groups.add(rec.pgid);
        unlinkSync(join(d, file));
      }
      if (stale) killed += killLeftovers(executionId, groups);
      try {
        rmdirSync(d);
      } catch {
        // not empty: a live worker's groups are still recorded
      }
    }
    return killed;
  }
}

function safeReaddir(d: string): string[] {
  try {
    return readdirSync(d).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

/**
 * SIGKILL to every process on this host that carries the execution's marker, and to every
 * member of `groups` (groups whose leader is verified to be the shell the worker started).
 */
function killLeftovers(executionId: string, groups: ReadonlySet<number>): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const inGroup = groups.size > 0 && groups.has(procStat(pid)?.pgrp ?? -1);
    if (!inGroup && !hasMarker(pid, executionId)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}
