import { formatPath, locateIn } from '../common/yaml-source.js';
import type { RunbookProblem } from './runbook.parser.js';
import type { RunbookDefinition } from './runbook.schema.js';

export interface ParsedRunbook {
  file: string;
  text: string;
  definition: RunbookDefinition;
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

  const calls = (def: RunbookDefinition) =>
    [
      ...def.steps.map((s, i) => ({
        s,
        path: ['steps', i, 'runbook', 'name'] as Array<string | number>,
      })),
      ...(def.onError ?? []).map((s, i) => ({
        s,
        path: ['onError', i, 'runbook', 'name'] as Array<string | number>,
      })),
    ]
      .filter(({ s }) => s.runbook)
      .map(({ s, path }) => ({ target: s.runbook!.name, path }));

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
