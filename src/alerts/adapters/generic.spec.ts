import { labelsFingerprint } from './common.js';
import { adaptGeneric } from './generic.js';

const alert = {
  status: 'firing',
  labels: { alertname: 'DiskFull', instance: 'web-1', severity: 'warning' },
  annotations: { summary: 'disk 97% full on web-1' },
  startsAt: '2026-12-01T10:00:00Z',
  links: [
    { href: 'https://grafana.example/d/disk', text: 'dashboard' },
    { href: 'https://runbooks.example/disk', text: 'runbook' },
  ],
};

describe('the generic JSON adapter (docs/alerts.md)', () => {
  it('takes one alert: fingerprint from the sorted labels, its own group, links', () => {
    const r = adaptGeneric(alert);
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    const fp = labelsFingerprint(alert.labels);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(r.batch.alerts).toEqual([
      {
        source: 'generic',
        fingerprint: fp,
        status: 'firing',
        labels: alert.labels,
        annotations: {
          summary: 'disk 97% full on web-1',
          link_1: 'runbook https://runbooks.example/disk',
        },
        startsAt: '2026-12-01T10:00:00.000Z',
        endsAt: null,
        generatorURL: 'https://grafana.example/d/disk',
        groupKey: `generic:${fp}`,
      },
    ]);
  });

  it('computes the same fingerprint whatever order the labels come in', () => {
    const reordered = { severity: 'warning', instance: 'web-1', alertname: 'DiskFull' };
    expect(labelsFingerprint(reordered)).toBe(labelsFingerprint(alert.labels));
    expect(labelsFingerprint({ ...reordered, instance: 'web-2' })).not.toBe(
      labelsFingerprint(alert.labels),
    );
    // No ambiguity between a label boundary and a value: {a: "b=c"} is not {a: "b", …}.
    expect(labelsFingerprint({ a: 'bc' })).not.toBe(labelsFingerprint({ ab: 'c' }));
  });

  it('takes a list, grouped by the labels all alerts share, or an envelope with its group and event id', () => {
    const other = { ...alert, labels: { ...alert.labels, instance: 'web-2' }, fingerprint: 'fp-2' };
    const list = adaptGeneric([alert, other]);
    if (!list.ok || !list.batch) throw new Error(JSON.stringify(list));
    expect(list.batch.groupKey).toBe(
      `generic:${labelsFingerprint({ alertname: 'DiskFull', severity: 'warning' })}`,
    );
    expect(list.batch.alerts.map((a) => a.fingerprint)).toEqual([
      labelsFingerprint(alert.labels),
      'fp-2',
    ]);
    const env = adaptGeneric({ groupKey: 'disk', eventId: 'evt-1', alerts: [alert] });
    expect(env.ok && env.batch).toMatchObject({ groupKey: 'disk', eventId: 'evt-1' });
  });

  it('refuses a wrong shape, naming the field path (unknown fields too)', () => {
    const paths = (body: unknown) => {
      const r = adaptGeneric(body);
      return r.ok ? [] : r.problems.map((p) => p.path).sort();
    };
    expect(paths({ ...alert, status: 'pending' })).toEqual(['status']);
    expect(paths({ ...alert, labels: {} })).toEqual(['labels']);
    expect(paths({ ...alert, lables: {} })).toEqual(['lables']);
    expect(paths({ alerts: [alert, { ...alert, startsAt: 'yesterday' }] })).toEqual([
      'alerts[1].startsAt',
    ]);
    expect(paths([{ ...alert, links: [{ url: 'x' }] }]).sort()).toEqual([
      '[0].links[0].href',
      '[0].links[0].url',
    ]);
    expect(paths({ alerts: [] })).toEqual(['alerts']);
    expect(paths('text')).toEqual(['body']);
  });
});
