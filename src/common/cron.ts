import { Cron } from 'croner';

/**
 * Cron expressions with time zones, for runbook schedules and recurring freeze windows, through
 * `croner` (maintained, no dependencies, IANA zones through Intl, 5 or 6 fields and `@hourly`-style
 * nicknames). Daylight-saving changes follow croner's documented behaviour (Vixie cron's; pinned
 * by test/schedules.spec.ts): a fixed-time expression (one value in each of seconds, minutes and
 * hours, e.g. `30 2 * * *`) whose time is skipped by the spring change fires once, at the first
 * valid time after the gap, and whose time is repeated in autumn fires once, at the first
 * occurrence; an interval expression (`0,30 * * * *`, a step or a wildcard) skips times in the gap and fires on both
 * passes through the repeated hour.
 */

const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Null when the zone is a known IANA zone (or UTC), else why not. */
export function zoneProblem(zone: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return null;
  } catch {
    return `unknown time zone "${zone}" (expected an IANA zone such as Europe/Berlin or UTC)`;
  }
}

/** Null when the expression is one the scheduler can fire, else why not. */
export function cronProblem(expr: string, zone?: string): string | null {
  const text = expr.trim();
  if (text.startsWith('@')) {
    if (!NICKNAMES.includes(text.toLowerCase()))
      return `unknown cron nickname "${text}" (expected one of ${NICKNAMES.join(', ')})`;
  } else {
    const fields = text.split(/\s+/).length;
    if (fields !== 5 && fields !== 6)
      return `expected 5 cron fields (minute hour day month weekday) or 6 (seconds first), got ${fields}`;
  }
  try {
    const c = cronOf(text, zone);
    if (!c.nextRun(new Date())) return 'never fires';
    return null;
  } catch (err) {
    return `invalid cron expression "${text}": ${(err as Error).message}`;
  }
}

function cronOf(expr: string, zone?: string): Cron {
  return new Cron(expr.trim(), { timezone: zone ?? 'UTC', paused: true });
}

/** The fire times after `after` (exclusive) up to `until` (inclusive), at most `max`. */
export function firesBetween(
  expr: string,
  zone: string | undefined,
  after: Date,
  until: Date,
  max: number,
): Date[] {
  const c = cronOf(expr, zone);
  const out: Date[] = [];
  let t: Date | null = after;
  while (out.length < max && (t = c.nextRun(t)) && t <= until) out.push(t);
  return out;
}

/** The newest fire times after `after` up to `until` (inclusive), at most `max`, oldest first. */
export function lastFiresBetween(
  expr: string,
  zone: string | undefined,
  after: Date,
  until: Date,
  max: number,
): Date[] {
  return cronOf(expr, zone)
    .previousRuns(max, new Date(until.getTime() + 1))
    .filter((t) => t > after && t <= until)
    .reverse();
}

/** The next `n` fire times after `after`. */
export function nextFires(expr: string, zone: string | undefined, after: Date, n: number): Date[] {
  return cronOf(expr, zone).nextRuns(n, after);
}

/** `at` as wall-clock time in `zone`, ISO-like with the offset: `2026-03-29T03:00:00+02:00`. */
export function inZone(at: Date, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}
