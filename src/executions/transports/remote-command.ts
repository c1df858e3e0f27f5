import { shellQuote } from '../../runbooks/template.js';

/** After SIGTERM to the remote process group, how long before SIGKILL. */
export const REMOTE_KILL_GRACE_MS = 2000;

const WRAPPER_ARGV0 = 'firebreak';

/**
 * The remote command line for `command`: a small POSIX wrapper that makes sure the command runs
 * as the leader of its own process group, reports that group's id on stderr as the line
 * `<marker> <pgid>`, then execs `/bin/sh -c command` (same pid, so same group). OpenSSH already
 * starts non-PTY sessions with setsid(), so the wrapper is usually the group leader; otherwise
 * `setsid` (which does not fork for a non-leader) makes it one. Without `setsid` on the node it
 * reports `<marker> -` and a stop falls back to channel signals.
 *
 * The line is read by the login shell, then everything runs under /bin/sh; the user's command is
 * passed as an argument, never spliced into the wrapper.
 */
export function wrapRemoteCommand(command: string, marker: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(marker)) throw new Error('marker must be [A-Za-z0-9_]+');
  const script = [
    `if kill -s 0 -- -$$ 2>/dev/null; then printf '%s %s\\n' ${marker} "$$" >&2; exec /bin/sh -c "$1"; fi`,
    `if command -v setsid >/dev/null 2>&1; then exec setsid /bin/sh -c 'printf "%s %s\\n" "$0" "$$" >&2; exec /bin/sh -c "$1"' ${marker} "$1"; fi`,
    `printf '%s -\\n' ${marker} >&2; exec /bin/sh -c "$1"`,
  ].join('\n');
  return `exec /bin/sh -c ${shellQuote(script)} ${WRAPPER_ARGV0} ${shellQuote(command)}`;
}

/**
 * The remote command that stops process group `pgid`: SIGTERM, then SIGKILL after `graceMs`
 * unless the group is gone sooner (polled every 100 ms). Uses `kill -s SIG -- -pgid`: dash, the
 * usual /bin/sh, rejects `kill -TERM -- -pgid`.
 */
export function remoteKillCommand(pgid: number, graceMs = REMOTE_KILL_GRACE_MS): string {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`bad process group id ${pgid}`);
  const rounds = Math.max(1, Math.ceil(graceMs / 100));
  const script =
    `p=${pgid}; kill -s TERM -- -$p 2>/dev/null || exit 0; i=0; ` +
    `while [ $i -lt ${rounds} ]; do kill -s 0 -- -$p 2>/dev/null || exit 0; ` +
    `sleep 0.1 2>/dev/null || { sleep 1; i=$((i+9)); }; i=$((i+1)); done; ` +
    `kill -s KILL -- -$p 2>/dev/null; exit 0`;
  return `exec /bin/sh -c ${shellQuote(script)}`;
}
