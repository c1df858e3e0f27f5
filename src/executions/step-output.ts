import type { StepDefinition } from '../runbooks/runbook.schema.js';

/** `$.a.b[0].c` into a parsed JSON value; undefined when absent. */
export function jsonPath(value: unknown, path: string): unknown {
  let cur = value;
  const parts = path.slice(1).match(/\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]/g) ?? [];
  for (const part of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = part.startsWith('[') ? Number(part.slice(1, -1)) : part.slice(1);
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Named values from a step's output (stdout, or an HTTP body), as strings. */
export function extractCaptures(
  capture: StepDefinition['capture'],
  output: string,
): { values: Record<string, string>; missing: string[] } {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  let parsed: ReturnType<typeof parseJson> | undefined;
  for (const [name, rule] of Object.entries(capture ?? {})) {
    let v: unknown;
    if ('regex' in rule) {
      const m = new RegExp(rule.regex, 'mu').exec(output);
      v = m ? (m[1] ?? m[0]) : undefined;
    } else if ('json' in rule) {
      parsed ??= parseJson(output);
      v = parsed.ok ? jsonPath(parsed.value, rule.json) : undefined;
    } else {
      v = output.split('\n')[rule.line - 1];
    }
    if (v === undefined || v === null) missing.push(name);
    else values[name] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { values, missing };
}

type Expect = NonNullable<StepDefinition['check']>['expect'];

/**
 * A check's verdict: every assertion that failed, in words (`exit code 3, expected 0`,
 * `$.error_rate is 0.08, expected < 0.02`). Thresholds arrive already rendered.
 */
export function evaluateCheck(
  expect: Expect,
  result: { exitCode?: number | null; status?: number; output: string },
  render: (v: unknown) => unknown,
): string[] {
  const failures: string[] = [];
  if (
    expect.exitCode !== undefined ||
    (result.exitCode !== undefined && result.status === undefined)
  ) {
    const want = expect.exitCode ?? 0;
    if (result.exitCode !== want)
      failures.push(`exit code ${result.exitCode ?? 'none'}, expected ${want}`);
  }
  if (expect.status && result.status !== undefined && !expect.status.includes(result.status)) {
    failures.push(`HTTP status ${result.status}, expected ${expect.status.join(' or ')}`);
  }
  if (expect.stdout !== undefined && !new RegExp(expect.stdout, 'mu').test(result.output.trim())) {
    failures.push(`output does not match /${expect.stdout}/`);
  }
  if (expect.json?.length) {
    const parsed = parseJson(result.output);
    if (!parsed.ok) failures.push('output is not JSON');
    else {
      for (const a of expect.json) {
        const actual = jsonPath(parsed.value, a.path);
        const shown = JSON.stringify(actual);
        const num = (x: unknown) =>
          typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
        const cmp = (op: string, want: unknown, ok: (x: number, y: number) => boolean) => {
          const w = num(render(want));
          const v = num(actual);
          if (Number.isNaN(v) || Number.isNaN(w) || !ok(v, w))
            failures.push(`${a.path} is ${shown}, expected ${op} ${String(render(want))}`);
        };
        if (
          a.eq !== undefined &&
          String(actual) !== String(render(a.eq)) &&
          !(a.eq === null && actual == null)
        ) {
          failures.push(`${a.path} is ${shown}, expected ${JSON.stringify(render(a.eq))}`);
        }
        if (
          a.ne !== undefined &&
          (a.ne === null ? actual == null : String(actual) === String(render(a.ne)))
        ) {
          failures.push(
            `${a.path} is ${shown}, expected anything but ${JSON.stringify(render(a.ne))}`,
          );
        }
        if (a.lt !== undefined) cmp('<', a.lt, (x, y) => x < y);
        if (a.lte !== undefined) cmp('<=', a.lte, (x, y) => x <= y);
        if (a.gt !== undefined) cmp('>', a.gt, (x, y) => x > y);
        if (a.gte !== undefined) cmp('>=', a.gte, (x, y) => x >= y);
        if (
          a.matches !== undefined &&
          !(typeof actual === 'string' && new RegExp(a.matches, 'u').test(actual))
        ) {
          failures.push(`${a.path} is ${shown}, expected to match /${a.matches}/`);
        }
      }
    }
  }
  return failures;
}
