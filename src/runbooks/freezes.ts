import { z } from 'zod';
import { cronProblem, firesBetween, lastFiresBetween, zoneProblem } from '../common/cron.js';
import {
  loadYamlSource,
  schemaProblem,
  sortProblems,
  formatPath,
  type PathKey,
  type SourceProblem,
} from '../common/yaml-source.js';
import { DURATION_RE, durationMs, NAME_RE, type RunbookDefinition } from './runbook.schema.js';

/**
 * Change freezes: named windows during which runs in scope are refused (unless break-glass), from
 * a reviewed file (`FREEZES_FILE`, by default `freezes.yaml` in the runbooks directory). A window
 * is one-off (`start`, `end`) or recurring (`cron` + `duration`, in `timezone`).
 */
const FREEZE_NAME_RE = /^[a-z0-9][a-z0-9-]{1,62}$/;
const instant = z.iso
  .datetime({ offset: true })
  .describe('An ISO 8601 instant with its offset: 2026-12-20T00:00:00Z');

export const freezeSchema = z.strictObject({
  name: z.string().regex(FREEZE_NAME_RE, 'expected 2-63 lower-case letters, digits or dashes'),
  reason: z.string().min(1).max(500).optional(),
  start: instant.optional(),
  end: instant.optional(),
  cron: z.string().min(1).max(200).optional().describe('Recurring: when each window starts'),
  duration: z
    .string()
    .regex(DURATION_RE, 'expected a duration such as 30m or 64h')
    .optional()
    .describe('Recurring: how long each window lasts'),
  timezone: z.string().min(1).max(64).optional().describe('IANA zone of cron (default UTC)'),
  scope: z
    .strictObject({
      runbooks: z.array(z.string().regex(NAME_RE, 'expected a runbook name')).optional(),
      kinds: z.array(z.enum(['diagnostic', 'remediation'])).optional(),
      tags: z.array(z.string().min(1)).optional().describe('Runbooks with any of these tags'),
      nodes: z
        .strictObject({
          names: z.array(z.string().min(1)).optional(),
          attributes: z.record(z.string(), z.string()).optional(),
        })
        .optional()
        .describe('Runs with a target node matching (any of the names; all of the attributes)'),
    })
    .optional(),
  includeDiagnostics: z
    .boolean()
    .optional()
    .describe('Freeze diagnostics too (by default they stay allowed)'),
});

export const freezesFileSchema = z.strictObject({ freezes: z.array(freezeSchema).max(200) });

export type FreezeDefinition = z.infer<typeof freezeSchema>;

export interface FreezeTarget {
  name: string;
  attributes: Record<string, string>;
}

/** A freeze in effect: its name, reason and when the window ends. */
export interface ActiveFreeze {
  name: string;
  reason: string | null;
  start: Date;
  until: Date;
}

export type FreezesParse =
  { ok: true; freezes: FreezeDefinition[] } | { ok: false; problems: SourceProblem[] };

const MAX_FREEZES_BYTES = 256 * 1024;

const KNOWN: Record<string, readonly string[]> = {
  root: ['freezes'],
  freeze: Object.keys(freezeSchema.shape),
  scope: ['runbooks', 'kinds', 'tags', 'nodes'],
  nodes: ['names', 'attributes'],
};

export function parseFreezes(file: string, text: string): FreezesParse {
  const problems: SourceProblem[] = [];
  const loaded = loadYamlSource(file, text, MAX_FREEZES_BYTES);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const { data, locate } = loaded;
  const add = (path: readonly PathKey[], message: string, where = locate.at(path)) =>
    problems.push({ file, path: formatPath(path), line: where.line, col: where.col, message });
  const parsed = freezesFileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      schemaProblem(issue, data, locate, add, {
        knownKeysAt: (path) => {
          const last = path[path.length - 1];
          if (path.length === 0) return KNOWN.root;
          if (typeof last === 'number') return KNOWN.freeze;
          return KNOWN[String(last)] ?? [];
        },
      });
    return { ok: false, problems: sortProblems(problems) };
  }
  const names = new Set<string>();
  parsed.data.freezes.forEach((f, i) => {
    if (names.has(f.name)) add(['freezes', i, 'name'], `duplicate freeze name "${f.name}"`);
    names.add(f.name);
    const oneOff = f.start !== undefined || f.end !== undefined;
    const recurring = f.cron !== undefined || f.duration !== undefined;
    if (oneOff && recurring)
      add(['freezes', i], 'either start and end (one-off) or cron and duration (recurring)');
    else if (oneOff) {
      if (f.start === undefined) add(['freezes', i], 'start is required with end');
      else if (f.end === undefined) add(['freezes', i], 'end is required with start');
      else if (Date.parse(f.end) <= Date.parse(f.start))
        add(['freezes', i, 'end'], `end (${f.end}) must be after start (${f.start})`);
      if (f.timezone !== undefined)
        add(['freezes', i, 'timezone'], 'only for recurring windows (start and end carry offsets)');
    } else if (recurring) {
      if (f.cron === undefined) add(['freezes', i], 'cron is required with duration');
      if (f.duration === undefined) add(['freezes', i], 'duration is required with cron');
      const zone = f.timezone ? zoneProblem(f.timezone) : null;
      if (zone) add(['freezes', i, 'timezone'], zone);
      const cron = f.cron ? cronProblem(f.cron, zone ? undefined : f.timezone) : null;
      if (cron) add(['freezes', i, 'cron'], cron);
    } else add(['freezes', i], 'a freeze needs start and end, or cron and duration');
  });
  if (problems.length) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, freezes: parsed.data.freezes };
}

/**
 * A freeze given through the API, checked exactly like one in the file (it is read as the one
 * freeze of a file: JSON is YAML): the problems with the field path inside the freeze.
 */
export function checkFreeze(
  body: unknown,
):
  | { ok: true; freeze: FreezeDefinition }
  | { ok: false; problems: Array<{ path: string; message: string }> } {
  const r = parseFreezes('request body', JSON.stringify({ freezes: [body ?? null] }));
  if (r.ok) return { ok: true, freeze: r.freezes[0] };
  return {
    ok: false,
    problems: r.problems.map((p) => ({
      path: p.path.replace(/^freezes\[0\]\.?/, '') || '(body)',
      message: p.message,
    })),
  };
}

/** Whether a run of `def` on `targets` is in the freeze's scope (ignoring time). */
export function inScope(
  f: FreezeDefinition,
  def: Pick<RunbookDefinition, 'name' | 'kind' | 'tags'>,
  targets: readonly FreezeTarget[],
): boolean {
  if (def.kind === 'diagnostic' && !f.includeDiagnostics) return false;
  const s = f.scope;
  if (!s) return true;
  if (s.runbooks && !s.runbooks.includes(def.name)) return false;
  if (s.kinds && !s.kinds.includes(def.kind)) return false;
  if (s.tags && !s.tags.some((t) => def.tags?.includes(t))) return false;
  if (s.nodes) {
    const { names, attributes } = s.nodes;
    const match = (t: FreezeTarget) =>
      (!names || names.includes(t.name)) &&
      Object.entries(attributes ?? {}).every(([k, v]) => t.attributes[k] === v);
    if (!targets.some(match)) return false;
  }
  return true;
}

/** The window of `f` that contains `at`, if any (overlapping recurring windows: the one ending last). */
export function windowAt(f: FreezeDefinition, at: Date): { start: Date; until: Date } | null {
  if (f.start && f.end) {
    const start = new Date(f.start);
    const until = new Date(f.end);
    return start <= at && at < until ? { start, until } : null;
  }
  if (!f.cron || !f.duration) return null;
  const ms = durationMs(f.duration);
  // The newest window start within the duration (walking back from `at`: one step): with
  // overlapping windows it is the one that ends last.
  const [start] = lastFiresBetween(f.cron, f.timezone, new Date(at.getTime() - ms), at, 1);
  if (!start) return null;
  const until = new Date(start.getTime() + ms);
  return until > at ? { start, until } : null;
}

/** The freeze in effect for this run at `at` (the one ending last when several are), or null. */
export function activeFreeze(
  freezes: readonly FreezeDefinition[],
  def: Pick<RunbookDefinition, 'name' | 'kind' | 'tags'>,
  targets: readonly FreezeTarget[],
  at: Date,
): ActiveFreeze | null {
  let found: ActiveFreeze | null = null;
  for (const f of freezes) {
    if (!inScope(f, def, targets)) continue;
    const w = windowAt(f, at);
    if (w && (!found || w.until > found.until))
      found = { name: f.name, reason: f.reason ?? null, ...w };
  }
  return found;
}

/** The next window of `f` starting after `at` (recurring), or its one window if still ahead. */
export function nextWindow(f: FreezeDefinition, at: Date): { start: Date; until: Date } | null {
  if (f.start && f.end) {
    const start = new Date(f.start);
    return start > at ? { start, until: new Date(f.end) } : null;
  }
  if (!f.cron || !f.duration) return null;
  const [start] = firesBetween(f.cron, f.timezone, at, new Date(at.getTime() + 366 * 864e5), 1);
  return start ? { start, until: new Date(start.getTime() + durationMs(f.duration)) } : null;
}
