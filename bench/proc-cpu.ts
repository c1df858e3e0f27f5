import { readdirSync, readFileSync } from 'node:fs';

// CPU time of other processes, from /proc (Linux): the benches' figures for the test cluster's
// Postgres, the fleet's sshd and the load generators, which share the machine's cores.

const TICK_US = 10_000; // USER_HZ 100 on Linux

/** The fields of /proc/<pid>/stat after the command name: f[0] is field 3 (state). */
const statFields = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

/** CPU µs of a process (user + system), with its waited-for children's when `children`. */
export function procCpuUs(pid: number, children: boolean): number {
  try {
    const f = statFields(pid);
    // utime 14, stime 15, cutime 16, cstime 17.
    const own = Number(f[11]) + Number(f[12]);
    return (own + (children ? Number(f[13]) + Number(f[14]) : 0)) * TICK_US;
  } catch {
    return 0; // gone
  }
}

/** The parent of a live process. */
export const parentOf = (pid: number): number => Number(statFields(pid)[1]);

/** Live children of `ppid`. */
export function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (parentOf(+name) === ppid) pids.push(+name);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** A Postgres cluster's CPU so far, µs: the postmaster and its finished and live backends. */
export const postgresCpuUs = (postmaster: number): number =>
  procCpuUs(postmaster, true) +
  childrenOf(postmaster).reduce((sum, pid) => sum + procCpuUs(pid, false), 0);
