import { responseMetrics } from './response-metrics.js';

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));

describe('response metrics', () => {
  const incidents = [
    {
      severity: 'SEV1' as const,
      status: 'resolved' as const,
      declaredAt: at(0),
      acknowledgedAt: at(2),
      mitigatedAt: at(10),
      resolvedAt: at(30),
    },
    {
      severity: 'SEV1' as const,
      status: 'monitoring' as const,
      declaredAt: at(60),
      acknowledgedAt: at(64),
      mitigatedAt: at(80),
      resolvedAt: null,
    },
    {
      severity: 'SEV3' as const,
      status: 'triggered' as const,
      declaredAt: at(100),
      acknowledgedAt: null,
      mitigatedAt: null,
      resolvedAt: null,
    },
  ];

  it('averages each stage over the incidents that reached it, per severity', () => {
    const m = responseMetrics(incidents);
    const sev1 = m.bySeverity.find((s) => s.severity === 'SEV1')!;
    expect(sev1).toMatchObject({
      count: 2,
      mttaSeconds: 180,
      mttmSeconds: 900,
      mttrSeconds: 1800,
    });
    expect(sev1.byStatus).toMatchObject({ resolved: 1, monitoring: 1 });
    const sev3 = m.bySeverity.find((s) => s.severity === 'SEV3')!;
    expect(sev3).toMatchObject({ count: 1, mttaSeconds: null, mttrSeconds: null });
    expect(m.bySeverity.find((s) => s.severity === 'SEV2')!.count).toBe(0);
    expect(m.total).toBe(3);
    expect(m.byStatus).toEqual({
      triggered: 1,
      investigating: 0,
      identified: 0,
      monitoring: 1,
      resolved: 1,
    });
  });

  it('counts only incidents declared within [from, to)', () => {
    const m = responseMetrics(incidents, { from: at(1), to: at(100) });
    expect(m.total).toBe(1);
    expect(m.bySeverity[0]).toMatchObject({ count: 1, mttaSeconds: 240 });
  });
});
