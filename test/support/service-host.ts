import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * What `restart-service` needs on a node, for a test target that has no systemd (a container):
 * `systemctl` (start, stop, restart, is-active, status), `journalctl -u UNIT -n N` and `sudo`
 * (as root without a password it runs the command as is). Units are real processes: a restart
 * kills the unit's process and starts a new one (its own session, so it outlives the SSH
 * command), a broken unit fails to start and `is-active` says `failed`, as systemd does. Put
 * `binDir` first on the target's PATH (startSshd's `path`). Users never run this: it stands in
 * for their init system, so the tests can see what the runbook did to each node.
 */
export interface ServiceHost {
  binDir: string;
  /** The unit's running process id, or null when it is not running. */
  pid(unit: string): Promise<number | null>;
  /** How many times the unit was started. */
  starts(unit: string): Promise<number>;
  /** From now on the unit fails to start (a bad config deployed). */
  breakUnit(unit: string): Promise<void>;
  /** From now on the unit starts (systemctl succeeds) and dies at once (a crash on boot). */
  crashUnit(unit: string): Promise<void>;
  close(): Promise<void>;
}

const SYSTEMCTL = String.raw`#!/bin/sh
# systemctl stand-in (test/support/service-host.ts): units are processes under $STATE.
STATE=__STATE__
cmd=$1; shift
while [ $# -gt 0 ]; do case $1 in --) shift; break;; -*) shift;; *) break;; esac; done
unit=$(basename "$1" .service)
[ -n "$unit" ] || { echo "Too few arguments." >&2; exit 1; }
[ -f "$STATE/$unit.unit" ] || { echo "Unit $unit.service could not be found." >&2; exit 4; }
pidfile="$STATE/$unit.pid"
journal() { echo "$(date '+%b %d %H:%M:%S') $(hostname) $unit[$$]: $*" >> "$STATE/$unit.journal"; }
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
stop() {
  if running; then kill "$(cat "$pidfile")"; journal "Stopped $unit.service."; fi
  rm -f "$pidfile"
}
start() {
  if [ -f "$STATE/$unit.broken" ]; then
    journal "$unit.service: Main process exited, code=exited, status=1/FAILURE"
    journal "Failed to start $unit.service."
    touch "$STATE/$unit.failed"
    echo "Job for $unit.service failed because the control process exited with error code." >&2
    exit 1
  fi
  if [ -f "$STATE/$unit.crashes" ]; then
    # Starts, then dies at once: systemctl returns 0, the health check must catch it.
    journal "Started $unit.service."
    journal "$unit.service: Main process exited, code=killed, status=11/SEGV"
    touch "$STATE/$unit.failed"
    return 0
  fi
  rm -f "$STATE/$unit.failed"
  setsid sleep 600 </dev/null >/dev/null 2>&1 &
  echo $! > "$pidfile"
  echo $(( $(cat "$STATE/$unit.starts" 2>/dev/null || echo 0) + 1 )) > "$STATE/$unit.starts"
  journal "Started $unit.service."
}
case $cmd in
  start) running || start ;;
  stop) stop ;;
  restart) stop; start ;;
  is-active)
    if running; then echo active; exit 0; fi
    if [ -f "$STATE/$unit.failed" ]; then echo failed; else echo inactive; fi
    exit 3 ;;
  status)
    if running; then state="active (running)"; code=0
    elif [ -f "$STATE/$unit.failed" ]; then state="failed (Result: exit-code)"; code=3
    else state="inactive (dead)"; code=3; fi
    echo "* $unit.service - $unit"
    echo "     Active: $state"
    tail -n 5 "$STATE/$unit.journal" 2>/dev/null
    exit $code ;;
  *) echo "Unknown command verb $cmd." >&2; exit 1 ;;
esac
`;

const JOURNALCTL = String.raw`#!/bin/sh
# journalctl stand-in: -u UNIT [-n N] [--no-pager]
STATE=__STATE__
unit=; lines=10
while [ $# -gt 0 ]; do
  case $1 in -u) unit=$(basename "$2" .service); shift 2;; -n) lines=$2; shift 2;; *) shift;; esac
done
[ -n "$unit" ] || { echo "journalctl stand-in needs -u UNIT" >&2; exit 1; }
tail -n "$lines" "$STATE/$unit.journal" 2>/dev/null || echo "-- No entries --"
`;

// Root runs sudo without a password: the command as is. Anyone else has no sudo here.
const SUDO = `#!/bin/sh
[ "$(id -u)" = 0 ] || { echo "sudo: a password is required" >&2; exit 1; }
exec "$@"
`;

/** A node's service manager with `units` installed and started. */
export async function startServiceHost(units: string[]): Promise<ServiceHost> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'firebreak-service-host-'));
  const binDir = path.join(dir, 'bin');
  const state = path.join(dir, 'state');
  await Promise.all([mkdir(binDir), mkdir(state)]);
  await chmod(dir, 0o755);
  const install = async (name: string, text: string) => {
    const file = path.join(binDir, name);
    await writeFile(file, text.replaceAll('__STATE__', `'${state}'`));
    await chmod(file, 0o755);
  };
  await Promise.all([
    install('systemctl', SYSTEMCTL),
    install('journalctl', JOURNALCTL),
    install('sudo', SUDO),
  ]);
  const read = async (file: string) => {
    try {
      return (await readFile(path.join(state, file), 'utf8')).trim();
    } catch {
      return null;
    }
  };
  const run = promisify(execFile);
  const systemctl = (args: string[]) => run(path.join(binDir, 'systemctl'), args);
  for (const unit of units) {
    if (!/^[A-Za-z0-9@._-]+$/.test(unit)) throw new Error(`bad unit name ${unit}`);
    await writeFile(path.join(state, `${unit}.unit`), '');
    await systemctl(['start', unit]);
  }
  const pid = async (unit: string) => {
    const text = await read(`${unit}.pid`);
    if (!text) return null;
    try {
      process.kill(Number(text), 0);
      return Number(text);
    } catch {
      return null;
    }
  };
  return {
    binDir,
    pid,
    starts: async (unit) => Number((await read(`${unit}.starts`)) ?? 0),
    breakUnit: (unit) => writeFile(path.join(state, `${unit}.broken`), ''),
    crashUnit: (unit) => writeFile(path.join(state, `${unit}.crashes`), ''),
    async close() {
      for (const unit of units) {
        const p = await pid(unit);
        if (p) process.kill(p, 'SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
