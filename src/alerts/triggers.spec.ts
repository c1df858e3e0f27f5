import { selectNodes, type TargetNode } from '../nodes/node-filter.js';
import { triggeredRuns, triggerMatches } from './triggers.js';

const alert = (labels: Record<string, string>) => ({ labels, annotations: { summary: 's' } });
const diag = {
  name: 'diagnose-host',
  kind: 'diagnostic' as const,
  triggers: [
    {
      alert: { match: { alertname: '/HostOutOfMemory|HostHighCpuLoad/', severity: 'critical' } },
      options: { reason: '{{ alert.labels.alertname }}: {{ alert.annotations.summary }}' },
      targets: { nodes: { names: ['{{ alert.labels.instance }}'] } },
    },
  ],
};
const node = (name: string): TargetNode => ({
  name,
  hostname: name,
  port: 22,
  user: 'u',
  tags: [],
  attributes: {},
});

describe('alert triggers', () => {
  it("a trigger's own storm limit goes with its run; without one the integration's applies", () => {
    const own = {
      ...diag,
      triggers: [{ ...diag.triggers[0], storm: { runs: 5, window: '15m' } }],
    };
    const labels = { alertname: 'HostOutOfMemory', severity: 'critical', instance: 'web-1' };
    expect(triggeredRuns([own], alert(labels), ['*'])[0].storm).toEqual({
      max: 5,
      windowSeconds: 900,
    });
    expect(triggeredRuns([diag], alert(labels), ['*'])[0].storm).toBeUndefined();
  });

  it('equality and anchored /regex/ values; a missing label is empty', () => {
    const t = diag.triggers[0];
    expect(triggerMatches(t, alert({ alertname: 'HostOutOfMemory', severity: 'critical' }))).toBe(
      true,
    );
    expect(triggerMatches(t, alert({ alertname: 'XHostOutOfMemory', severity: 'critical' }))).toBe(
      false,
    );
    expect(triggerMatches(t, alert({ alertname: 'HostOutOfMemory', severity: 'warning' }))).toBe(
      false,
    );
    expect(triggerMatches(t, alert({ alertname: 'HostOutOfMemory' }))).toBe(false);
    expect(triggerMatches({ alert: { match: { team: '/|ops/' } } }, alert({}))).toBe(true);
  });

  it('options and target names come from the alert; names are literal, never globs', () => {
    const labels = { alertname: 'HostHighCpuLoad', severity: 'critical', instance: 'web-1' };
    const [run] = triggeredRuns([diag], alert(labels), ['*']);
    expect(run.runbook).toBe('diagnose-host');
    expect(run.options).toEqual({ reason: 'HostHighCpuLoad: s' });
    const fleet = ['web-1', 'web-2'].map(node);
    expect(selectNodes(run.targets, fleet).map((n) => n.name)).toEqual(['web-1']);
    const [glob] = triggeredRuns([diag], alert({ ...labels, instance: 'web-*' }), ['*']);
    expect(selectNodes(glob.targets, fleet)).toEqual([]);
  });

  it('only diagnostics, only runbooks the integration allows', () => {
    const labels = { alertname: 'HostHighCpuLoad', severity: 'critical', instance: 'web-1' };
    expect(triggeredRuns([diag], alert(labels), [])).toEqual([]);
    expect(triggeredRuns([diag], alert(labels), ['other'])).toEqual([]);
    expect(triggeredRuns([diag], alert(labels), ['diagnose-host'])).toHaveLength(1);
    expect(triggeredRuns([{ ...diag, kind: 'remediation' }], alert(labels), ['*'])).toEqual([]);
  });

  it('a remediation runs only from a trigger that opts in (autoRun: true)', () => {
    const labels = { alertname: 'HostHighCpuLoad', severity: 'critical', instance: 'web-1' };
    const remediation = { ...diag, name: 'restart-service', kind: 'remediation' as const };
    const [t] = diag.triggers;
    const optedIn = {
      ...remediation,
      triggers: [
        { ...t, autoRun: false },
        { ...t, autoRun: true },
      ],
    };
    expect(
      triggeredRuns([{ ...remediation, triggers: [{ ...t, autoRun: false }] }], alert(labels), [
        '*',
      ]),
    ).toEqual([]);
    const runs = triggeredRuns([optedIn], alert(labels), ['*']);
    expect(runs.map((r) => r.runbook)).toEqual(['restart-service']);
    expect(triggeredRuns([optedIn], alert(labels), ['diagnose-host'])).toEqual([]);
  });
});
