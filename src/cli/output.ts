/** Table output for people, JSON for scripts. Colour only on a TTY and without NO_COLOR. */

export interface Out {
  json: boolean;
  color: boolean;
  write(text: string): void;
}

export function makeOut(
  json: boolean,
  env: NodeJS.ProcessEnv,
  stream: NodeJS.WriteStream = process.stdout,
): Out {
  const color = !json && Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  return { json, color, write: (text) => void stream.write(text) };
}

const COLORS: Record<string, number> = {
  succeeded: 32,
  resolved: 32,
  approved: 32,
  failed: 31,
  timed_out: 31,
  rejected: 31,
  SEV1: 31,
  SEV2: 33,
  canceled: 90,
  expired: 90,
  running: 36,
  investigating: 36,
  awaiting_approval: 33,
  awaiting_child: 33,
  pending: 33,
  queued: 33,
  triggered: 33,
};

export function paint(out: Out, value: string): string {
  const code = COLORS[value];
  return out.color && code ? `\u001b[${code}m${value}\u001b[0m` : value;
}

export type Column<T> = [header: string, value: (row: T) => unknown, colored?: boolean];

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length ? v.map(cell).join(',') : '-';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.replace(/\s+/g, ' ');
}

/** Aligned columns, a header line, no borders (like `gh` and `kubectl`). */
export function table<T>(
  out: Out,
  rows: T[],
  columns: Column<T>[],
  empty = 'nothing to show',
): void {
  if (rows.length === 0) {
    process.stderr.write(`${empty}\n`);
    return;
  }
  const cells = rows.map((r) => columns.map(([, f]) => cell(f(r))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[], painted: boolean) =>
    values
      .map((v, i) => {
        const padded = i === values.length - 1 ? v : v.padEnd(widths[i]);
        return painted && columns[i][2] ? padded.replace(v, paint(out, v)) : padded;
      })
      .join('  ')
      .trimEnd();
  const header = line(
    columns.map(([h]) => h),
    false,
  );
  out.write(`${out.color ? `\u001b[1m${header}\u001b[0m` : header}\n`);
  for (const c of cells) out.write(`${line(c, true)}\n`);
}

/** `key: value` lines, keys aligned. */
export function fields(out: Out, pairs: Array<[string, unknown]>): void {
  const w = Math.max(...pairs.map(([k]) => k.length));
  for (const [k, v] of pairs) out.write(`${`${k}:`.padEnd(w + 1)} ${cell(v)}\n`);
}

export function printJson(out: Out, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "3m ago" style age for a timestamp. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
