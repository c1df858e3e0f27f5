import { formatPath, locateIn } from '../common/yaml-source.js';
import type { RunbookProblem } from './runbook.parser.js';
import type { RunbookDefinition } from './runbook.schema.js';

/** The most runbook steps deep a call chain may go (a → b is one level). */
export const MAX_RUNBOOK_NESTING = 5;

export interface ParsedRunbook {
  file: string;
  text: string;
  definition: RunbookDefinition;
}

/** The runbooks a runbook calls (steps, the between gate, onError), with where each call is. */
function calls(def: RunbookDefinition): Array<{ target: string; path: Array<string | number> }> {
  return [
    ...def.steps.map((s, i) => ({ s, path: ['steps', i] as Array<string | number> })),
    ...(def.targets?.between ? [{ s: def.targets.between, path: ['targets', 'between'] }] : []),
    ...(def.onError ?? []).map((s, i) => ({ s, path: ['onError', i] as Array<string | number> })),
  ]
    .filter(({ s }) => s.runbook)
    .map(({ s, path }) => ({ target: s.runbook!.name, path: [...path, 'runbook', 'name'] }));
}

/**
 * The call chains through one runbook being saved, over the stored runbooks' current versions:
 * a cycle back to it, or a chain (callers above it, calls below it) more than
 * MAX_RUNBOOK_NESTING runbook steps deep, each refused with the chain named.
 */
export function checkCallChains(
  saved: ParsedRunbook,
  stored: ReadonlyMap<string, RunbookDefinition>,
): RunbookProblem[] {
  const name = saved.definition.name;
  const defs = new Map(stored);
  defs.set(name, saved.definition);
  const down = new Map<string, string[]>();
  const up = new Map<string, string[]>();
  for (const [caller, def] of defs) {
    for (const { target } of calls(def)) {
      if (!defs.has(target)) continue;
      if (!down.get(caller)?.includes(target))
        down.set(caller, [...(down.get(caller) ?? []), target]);
      if (!up.get(target)?.includes(caller)) up.set(target, [...(up.get(target) ?? []), caller]);
    }
  }
  const problem = (chain: string[], message: string): RunbookProblem => {
    const call =
      chain[0] === name ? calls(saved.definition).find((c) => c.target === chain[1]) : undefined;
    const path = call?.path ?? ['name'];
    return { file: saved.file, path: formatPath(path), ...locateIn(saved.text, path), message };
  };
  // A cycle back to the saved runbook.
  const cycle = (at: string, trail: string[]): string[] | null => {
    for (const next of down.get(at) ?? []) {
      if (next === name) return [...trail, next];
      if (trail.includes(next) || trail.length > MAX_RUNBOOK_NESTING + 1) continue;
      const found = cycle(next, [...trail, next]);
      if (found) return found;
    }
    return null;
  };
  const loop = cycle(name, [name]);
  if (loop) return [problem(loop, `runbooks call each other in a cycle: ${loop.join(' → ')}`)];
  // The longest chain through it: its callers' longest chain above, its longest chain below.
  const longest = (at: string, edges: Map<string, string[]>, trail: string[]): string[] => {
    let best: string[] = [];
    if (trail.length > MAX_RUNBOOK_NESTING + 1) return best;
    for (const next of edges.get(at) ?? []) {
      if (trail.includes(next)) continue;
      const chain = [next, ...longest(next, edges, [...trail, next])];
      if (chain.length > best.length) best = chain;
    }
    return best;
  };
  const chain = [...longest(name, up, [name]).reverse(), name, ...longest(name, down, [name])];
  if (chain.length - 1 > MAX_RUNBOOK_NESTING) {
    // Point at the saved runbook's own call when it has one in the chain.
    const at = chain.indexOf(name);
    return [
      problem(
        at < chain.length - 1 ? chain.slice(at) : chain,
        `runbook steps nest deeper than ${MAX_RUNBOOK_NESTING} levels: ${chain.join(' → ')}`,
      ),
    ];
  }
  return [];
}

/**
 * Checks across runbooks: `runbook:` steps must name a runbook that exists (in this set or
 * already stored), one name must not come from two files, and runbooks must not call each other
 * in a cycle. Returns problems keyed by runbook name (each invalid runbook is left out of a sync).
 */
export function checkReferences(
  set: readonly ParsedRunbook[],
  stored: ReadonlySet<string>,
): Map<string, RunbookProblem[]> {
  const problems = new Map<string, RunbookProblem[]>();
  const add = (rb: ParsedRunbook, path: Array<string | number>, message: string) => {
    const list = problems.get(rb.definition.name) ?? [];
    list.push({ file: rb.file, path: formatPath(path), ...locateIn(rb.text, path), message });
    problems.set(rb.definition.name, list);
  };

  const byName = new Map<string, ParsedRunbook>();
  for (const rb of set) {
    const other = byName.get(rb.definition.name);
    if (other) {
      add(rb, ['name'], `runbook "${rb.definition.name}" is also defined in ${other.file}`);
      add(other, ['name'], `runbook "${rb.definition.name}" is also defined in ${rb.file}`);
    } else byName.set(rb.definition.name, rb);
  }

  for (const rb of byName.values()) {
    for (const { target, path } of calls(rb.definition)) {
      if (target === rb.definition.name) add(rb, path, 'a runbook cannot call itself');
      else if (!byName.has(target) && !stored.has(target))
        add(rb, path, `no runbook named "${target}"`);
    }
  }

  // Cycles (a → b → a), by depth-first search over the calls within this set.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      const rb = byName.get(name)!;
      const step = calls(rb.definition).find((c) => c.target === cycle[1]);
      add(rb, step?.path ?? ['steps'], `runbooks call each other in a cycle: ${cycle.join(' → ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const { target } of calls(byName.get(name)!.definition)) {
      if (byName.has(target) && target !== name) visit(target, [...trail, name]);
    }
    state.set(name, 'done');
  };
  for (const name of byName.keys()) visit(name, []);
  return problems;
}
