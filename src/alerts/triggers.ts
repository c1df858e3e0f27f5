import { renderNodeFilter } from '../nodes/node-filter.js';
import type { NodeFilter } from '../nodes/node-filter.schema.js';
import { durationMs, type RunbookDefinition } from '../runbooks/runbook.schema.js';
import { renderStructured, renderText } from '../runbooks/template.js';
import type { InternalAlert } from './alert.js';

type Trigger = NonNullable<RunbookDefinition['triggers']>[number];

/**
 * Whether an alert's labels satisfy a trigger's `alert.match`: equality, or a `/…/` value as a
 * regular expression over the whole value (anchored, as Alertmanager's `=~` is). A label the
 * alert lacks is the empty string, as in Alertmanager's matchers.
 */
export function triggerMatches(trigger: Trigger, alert: Pick<InternalAlert, 'labels'>): boolean {
  return Object.entries(trigger.alert.match).every(([label, want]) => {
    const value = Object.prototype.hasOwnProperty.call(alert.labels, label)
      ? alert.labels[label]
      : '';
    if (/^\/.*\/$/.test(want)) {
      try {
        return new RegExp(`^(?:${want.slice(1, -1)})$`, 'u').test(value);
      } catch {
        return false;
      }
    }
    return value === want;
  });
}

export interface TriggeredRun {
  runbook: string;
  /** Option values from the trigger, templated from the alert: validated by the start path. */
  options: Record<string, unknown>;
  /** The trigger's node filter with alert values as literal names; undefined: the runbook's own. */
  targets: NodeFilter | undefined;
  /** The trigger's own storm-guard limit (`storm`); undefined: the integration's runLimit. */
  storm?: { max: number; windowSeconds: number };
}

/**
 * The runs a firing alert starts: one per runbook and matching trigger (first match per runbook),
 * among the runbooks the integration allows (`*`: any). Diagnostics run automatically; a
 * remediation only from a trigger that opts in (`autoRun: true`), and the start path still holds
 * it for the runbook's approval.
 */
export function triggeredRuns(
  runbooks: ReadonlyArray<Pick<RunbookDefinition, 'name' | 'kind' | 'triggers'>>,
  alert: Pick<InternalAlert, 'labels' | 'annotations'>,
  allowed: readonly string[],
): TriggeredRun[] {
  const values = {
    options: {},
    alert: { labels: { ...alert.labels }, annotations: { ...alert.annotations } },
  };
  const out: TriggeredRun[] = [];
  for (const def of runbooks) {
    if (!allowed.includes('*') && !allowed.includes(def.name)) continue;
    const trigger = def.triggers?.find(
      (t) => (def.kind === 'diagnostic' || t.autoRun === true) && triggerMatches(t, alert),
    );
    if (!trigger) continue;
    const options = Object.fromEntries(
      Object.entries(trigger.options ?? {}).map(([k, v]) => [k, renderStructured(v, values).value]),
    );
    const targets = renderNodeFilter(
      trigger.targets?.nodes,
      values,
      (t, v, enc) => renderText(t, v, enc).text,
    );
    out.push({
      runbook: def.name,
      options,
      targets,
      ...(trigger.storm
        ? {
            storm: {
              max: trigger.storm.runs,
              windowSeconds: durationMs(trigger.storm.window) / 1000,
            },
          }
        : {}),
    });
  }
  return out;
}
