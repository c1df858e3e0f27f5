import { adaptAlertmanager } from './alertmanager.js';

/** The shape of the example in Prometheus' docs (`<webhook_config>`), with real-looking values. */
const sample = () => ({
  version: '4',
  groupKey: '{}/{severity="critical"}:{alertname="HostOutOfMemory"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'firebreak',
  groupLabels: { alertname: 'HostOutOfMemory' },
  commonLabels: { alertname: 'HostOutOfMemory', severity: 'critical' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.example.internal:9093',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HostOutOfMemory', instance: 'web-1', severity: 'critical' },
      annotations: { summary: 'Host out of memory (web-1)' },
      startsAt: '2026-12-01T10:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example.internal:9090/graph?g0.expr=up',
      fingerprint: 'a1b2c3d4e5f60708',
    },
    {
      status: 'resolved',
      labels: { alertname: 'HostOutOfMemory', instance: 'web-2', severity: 'critical' },
      annotations: {},
      startsAt: '2026-12-01T09:00:00+01:00',
      endsAt: '2026-12-01T09:30:00+01:00',
      generatorURL: '',
      fingerprint: '0f0e0d0c0b0a0908',
    },
  ],
});

describe('Alertmanager webhook v4 adapter', () => {
  it('maps each alert to the internal shape, zero endsAt as null, groupKey on each', () => {
    const r = adaptAlertmanager(sample());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.batch.groupKey).toBe('{}/{severity="critical"}:{alertname="HostOutOfMemory"}');
    expect(r.batch.truncated).toBe(0);
    expect(r.batch.alerts).toEqual([
      {
        source: 'alertmanager',
        fingerprint: 'a1b2c3d4e5f60708',
        status: 'firing',
        labels: { alertname: 'HostOutOfMemory', instance: 'web-1', severity: 'critical' },
        annotations: { summary: 'Host out of memory (web-1)' },
        startsAt: '2026-12-01T10:00:00.000Z',
        endsAt: null,
        generatorURL: 'http://prometheus.example.internal:9090/graph?g0.expr=up',
        groupKey: '{}/{severity="critical"}:{alertname="HostOutOfMemory"}',
      },
      {
        source: 'alertmanager',
        fingerprint: '0f0e0d0c0b0a0908',
        status: 'resolved',
        labels: { alertname: 'HostOutOfMemory', instance: 'web-2', severity: 'critical' },
        annotations: {},
        startsAt: '2026-12-01T08:00:00.000Z',
        endsAt: '2026-12-01T08:30:00.000Z',
        generatorURL: null,
        groupKey: '{}/{severity="critical"}:{alertname="HostOutOfMemory"}',
      },
    ]);
  });

  it('keeps truncatedAlerts and ignores fields it does not know', () => {
    const r = adaptAlertmanager({ ...sample(), truncatedAlerts: 7, somethingNew: true });
    expect(r.ok && r.batch.truncated).toBe(7);
  });

  it.each([
    [{ ...sample(), version: '3' }, 'version'],
    [{ ...sample(), groupKey: undefined }, 'groupKey'],
    [{ ...sample(), alerts: 'x' }, 'alerts'],
    [
      { ...sample(), alerts: [{ ...sample().alerts[0], fingerprint: undefined }] },
      'alerts[0].fingerprint',
    ],
    [{ ...sample(), alerts: [{ ...sample().alerts[0], status: 'pending' }] }, 'alerts[0].status'],
    [
      { ...sample(), alerts: [sample().alerts[0], { ...sample().alerts[1], labels: { a: 1 } }] },
      'alerts[1].labels.a',
    ],
    [
      { ...sample(), alerts: [{ ...sample().alerts[0], startsAt: 'yesterday' }] },
      'alerts[0].startsAt',
    ],
    [
      { ...sample(), alerts: [{ ...sample().alerts[0], labels: { a: 'x\u0000y' } }] },
      'alerts[0].labels.a',
    ],
    [{ ...sample(), groupKey: '\u0000' }, 'groupKey'],
    // An unpaired surrogate (JSON "\ud800"): jsonb refuses it, so it is a 400, never a 500.
    [
      { ...sample(), alerts: [{ ...sample().alerts[0], annotations: { summary: 'x\ud800' } }] },
      'alerts[0].annotations.summary',
    ],
    [
      { ...sample(), alerts: [{ ...sample().alerts[0], labels: { '\udc00': 'v' } }] },
      'alerts[0].labels.\udc00',
    ],
    [[], 'body'],
    [null, 'body'],
  ])('a wrong shape names the field path (%#: %s)', (body, path) => {
    const r = adaptAlertmanager(body);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toContain(path);
  });
});
