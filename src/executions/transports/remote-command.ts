import { shellQuote } from '../../runbooks/template.js';

/** After SIGTERM to the remote process group, how long before SIGKILL. */
export const REMOTE_KILL_GRACE_MS = 2000;

const WRAPPER_ARGV0 = 'firebreak';

/**
 * The remote command line for `command`: a small POSIX wrapper that marks where the command's
 * output starts on both streams and makes sure the command runs as the leader of its own
 * process group. It prints the line `<marker>` on stdout and `<marker> <pgid>` on stderr, then
 * execs `/bin/sh -c command` (same pid, so same group). OpenSSH already starts non-PTY sessions
 * with setsid(), so the wrapper is usually the group leader; otherwise `setsid` (which does not
 * fork for a non-leader) makes it one. Without `setsid` on the node it reports `<marker> -` and
 * a stop falls back to channel signals.
 *
 * Whatever the login shell prints before the wrapper runs (an rc file's output, warnings, even
 * a partial line) comes before the markers on each stream; {@link MarkedOutput} drops it.
 *
 * The line is read by the login shell, then everything runs under /bin/sh; the user's command is
 * passed as an argument, never spliced into the wrapper.
 */
export function wrapRemoteCommand(command: string, marker: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(marker)) throw new Error('marker must be [A-Za-z0-9_]+');
  const script = [
    `printf '%s\\n' ${marker}`,
    `if kill -s 0 -- -$$ 2>/dev/null; then printf '%s %s\\n' ${marker} "$$" >&2; exec /bin/sh -c "$1"; fi`,
    `if command -v setsid >/dev/null 2>&1; then exec setsid /bin/sh -c 'printf "%s %s\\n" "$0" "$$" >&2; exec /bin/sh -c "$1"' ${marker} "$1"; fi`,
    `printf '%s -\\n' ${marker} >&2; exec /bin/sh -c "$1"`,
  ].join('\n');
  return `exec /bin/sh -c ${shellQuote(script)} ${WRAPPER_ARGV0} ${shellQuote(command)}`;
}

/**
 * Lines the login shell may print before the wrapper's marker and that are held back waiting
 * for it (a login this chatty is delivered as is, and the marker is still looked for).
 */
export const MAX_PREAMBLE_LINES = 200;

/**
 * Reads one stream of a wrapped command (see {@link wrapRemoteCommand}): the lines before the
 * marker are the login shell's, not the command's, and are dropped; the marker is found at the
 * start of a line or after a partial line the login shell left unterminated, and never
 * delivered. `onMarker` gets what follows the marker on its line (`' 1234'` on stderr). When
 * the stream ends without a marker (the wrapper never ran: say the login shell failed), the
 * held lines are delivered: they explain the failure.
 */
export class MarkedOutput {
  private found = false;
  private held: string[] | undefined = [];

  constructor(
    private readonly marker: string,
    private readonly deliver: (line: string) => void,
    private readonly onMarker: (rest: string) => void = () => {},
  ) {}

  /** Whether the marker has been seen. */
  get marked(): boolean {
    return this.found;
  }

  readonly line = (line: string): void => {
    if (this.found) {
      this.deliver(line);
      return;
    }
    const at = line.indexOf(this.marker);
    if (at !== -1) {
      this.found = true;
      this.held = undefined;
      this.onMarker(line.slice(at + this.marker.length));
      return;
    }
    if (this.held === undefined) {
      this.deliver(line);
      return;
    }
    this.held.push(line);
    if (this.held.length > MAX_PREAMBLE_LINES) this.release();
  };

  /** The stream ended: delivers held lines if no marker came. */
  end(): void {
    if (!this.found) this.release();
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) this.deliver(line);
  }
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
