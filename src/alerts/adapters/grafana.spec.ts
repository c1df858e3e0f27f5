import { fixtureJson } from './fixtures.js';
import { adaptGrafana } from './grafana.js';

type Payload = { status: string; alerts: Array<Record<string, unknown>> };

describe('the Grafana adapter (the webhook payload of Grafana docs)', () => {
  it('reads the published sample: two firing alerts, fingerprints, Grafana links as annotations', () => {
    const r = adaptGrafana(fixtureJson('grafana-webhook.json'));
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch.groupKey).toBe('{}:{}');
    expect(r.batch.truncated).toBe(0);
    expect(r.batch.alerts.map((a) => [a.fingerprint, a.status, a.labels.alertname])).toEqual([
      ['c6eadffa33fcdf37', 'firing', 'High memory usage'],
      ['bc97ff14869b13e3', 'firing', 'High CPU usage'],
    ]);
    const [first] = r.batch.alerts;
    expect(first).toMatchObject({
      source: 'grafana',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
      startsAt: '2021-10-12T07:51:03.157Z',
      endsAt: null,
      generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      groupKey: '{}:{}',
    });
    expect(first.annotations).toMatchObject({
      summary: 'This alert was triggered for zone us-1',
      grafana_org_id: '1',
      values: '{"B":44.23943737541908,"C":1}',
    });
    expect(first.annotations.grafana_silence_url).toMatch(
      /^https:\/\/play\.grafana\.org\/alerting\/silence/,
    );
    // Empty links are left out, not stored as "".
    expect(first.annotations).not.toHaveProperty('grafana_dashboard_url');
  });

  it("takes each alert's own status: a top-level firing with one alert resolved", () => {
    const p = fixtureJson<Payload>('grafana-webhook.json');
    Object.assign(p.alerts[1], { status: 'resolved', endsAt: '2021-10-12T10:01:03.157076+02:00' });
    expect(p.status).toBe('firing');
    const r = adaptGrafana(p);
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch.alerts.map((a) => [a.status, a.endsAt])).toEqual([
      ['firing', null],
      ['resolved', '2021-10-12T08:01:03.157Z'],
    ]);
  });

  it('counts truncated alerts', () => {
    const p = { ...fixtureJson<Payload>('grafana-webhook.json'), truncatedAlerts: 3 };
    const r = adaptGrafana(p);
    expect(r.ok && r.batch?.truncated).toBe(3);
  });

  it('refuses a wrong shape, naming the field path', () => {
    const p = fixtureJson<Payload>('grafana-webhook.json');
    p.alerts[1].status = 'pending';
    delete p.alerts[0].fingerprint;
    const r = adaptGrafana(p);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((x) => x.path).sort()).toEqual([
      'alerts[0].fingerprint',
      'alerts[1].status',
    ]);
    expect(adaptGrafana({ status: 'firing', alerts: [] }).ok).toBe(false); // no groupKey
    expect(adaptGrafana('nope').ok).toBe(false);
  });
});
