import type { PathKey } from '../../common/yaml-source.js';
import type { ImportInput } from '../kinds.js';
import type { Finding } from '../report.js';
import { isMap, loadFile, pathText, text } from './source.js';

/** Workflow actions are not converted: their tasks are reported, each with its line. */

export const WORKFLOW_RUNNERS = ['orquesta', 'action-chain', 'mistral', 'mistral-v2'];

/** The tasks of a workflow file, each as a `skipped` finding with its line. */
export function reportWorkflowTasks(
  input: ImportInput,
  runner: string,
  out: Finding[],
  ref: string,
) {
  const loaded = loadFile(input, ref);
  if (!loaded.ok) {
    out.push(...loaded.findings);
    return;
  }
  const data = loaded.data;
  const tasks: Array<{ name: string; action: string; path: PathKey[] }> = [];
  if (isMap(data) && Array.isArray(data.chain)) {
    data.chain.forEach((t, i) => {
      if (isMap(t))
        tasks.push({ name: text(t.name), action: text(t.ref ?? '?'), path: ['chain', i] });
    });
  } else if (isMap(data) && isMap(data.tasks)) {
    for (const [n, t] of Object.entries(data.tasks))
      tasks.push({
        name: n,
        action: isMap(t) ? text(t.action ?? '?').split(' ')[0] : '?',
        path: ['tasks', n],
      });
  } else if (isMap(data)) {
    // Mistral v2: version plus one key per workflow, each with tasks.
    for (const [wf, body] of Object.entries(data)) {
      if (!isMap(body) || !isMap(body.tasks)) continue;
      for (const [n, t] of Object.entries(body.tasks))
        tasks.push({
          name: `${wf}.${n}`,
          action: isMap(t) ? text(t.action ?? t.workflow ?? '?').split(' ')[0] : '?',
          path: [wf, 'tasks', n],
        });
    }
  }
  if (!tasks.length) {
    out.push({
      level: 'skipped',
      source: { file: input.file, line: 1 },
      subject: ref,
      message: `no ${runner} tasks found`,
    });
    return;
  }
  for (const t of tasks) {
    const p = t.path.slice(0, -1);
    const last = t.path[t.path.length - 1];
    const line =
      typeof last === 'string' ? loaded.locate.at(p, last).line : loaded.locate.at(t.path).line;
    out.push({
      level: 'skipped',
      source: { file: input.file, line, path: pathText(t.path) },
      subject: `${ref} task ${t.name}`,
      message: `task ${t.name} (${t.action}) is not converted`,
    });
  }
}
