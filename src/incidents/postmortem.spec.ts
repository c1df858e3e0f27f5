import { formatDuration, renderPostmortem } from './postmortem.js';

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));

describe('postmortem Markdown', () => {
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(3725)).toBe('1h 2m 5s');
  });

  it('renders summary, roles, durations, timeline, executions and action items', () => {
    const md = renderPostmortem({
      ref: 'INC-7',
      title: 'Checkout down',
      summary: 'Checkout returned 502s',
      impact: null,
      severity: 'SEV2',
      status: 'resolved',
      source: 'manual',
      services: ['checkout'],
      declaredBy: 'alice',
      declaredAt: at(0),
      acknowledgedAt: at(2),
      identifiedAt: at(5),
      mitigatedAt: at(10),
      resolvedAt: at(61),
      roles: [{ role: 'commander', username: 'bob', displayName: 'Bob B' }],
      timeline: [
        { at: at(0), kind: 'incident.declared', actorName: 'alice', summary: 'declared | now' },
        {
          at: at(3),
          kind: 'execution.started',
          actorName: 'bob',
          summary: 'started diagnose-host',
          link: '/executions/x',
        },
      ],
      executions: [
        {
          id: 'x',
          runbook: 'diagnose-host',
          status: 'succeeded',
          actorName: 'bob',
          at: at(3),
          logs: '/executions/x/logs',
        },
      ],
      actionItems: [{ text: 'Add an alert', owner: 'carol', done: false }],
    });
    expect(md).toContain('# Postmortem: INC-7 — Checkout down');
    expect(md).toContain('**Incident commander:** Bob B (bob)');
    expect(md).toContain('| Time to acknowledge (TTA) | 2m 0s |');
    expect(md).toContain('| Time to mitigate (TTM) | 10m 0s |');
    expect(md).toContain('| Time to resolve (TTR) | 1h 1m 0s |');
    expect(md).toContain('declared \\| now');
    expect(md).toContain('| diagnose-host | bob | succeeded | [logs](/executions/x/logs) |');
    expect(md).toContain('- [ ] Add an alert (owner: carol)');
    expect(md).toContain('_No impact statement yet._');
  });
});
