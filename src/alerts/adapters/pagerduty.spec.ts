import { fixture, fixtureJson } from './fixtures.js';
import { adaptPagerDuty } from './pagerduty.js';

type Event = { event: Record<string, unknown> & { data: Record<string, unknown> } };

/** The `incident_note` data object of PagerDuty's V3 overview, as `incident.annotated` sends it. */
const annotated = (): Event => {
  const e = fixtureJson<Event>('pagerduty-incident-priority-updated.json');
  e.event.event_type = 'incident.annotated';
  e.event.data = {
    incident: {
      html_url: 'https://acme.pagerduty.com/incidents/PGR0VU2',
      id: 'PGR0VU2',
      self: 'https://api.pagerduty.com/incidents/PGR0VU2',
      summary: 'A little bump in the road',
      type: 'incident_reference',
    },
    id: 'P2LA89X',
    content: 'I sure am glad we are using PagerDuty!',
    trimmed: false,
    type: 'incident_note',
  };
  return e;
};

describe('the PagerDuty V3 adapter (the sample payloads of PagerDuty docs)', () => {
  it('maps the incident of the published incident.priority_updated event to one firing alert', () => {
    const r = adaptPagerDuty(fixtureJson('pagerduty-incident-priority-updated.json'));
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch).toMatchObject({
      groupKey: 'pagerduty:PGR0VU2',
      eventId: '5ac64822-4adc-4fda-ade0-410becf0de4f',
      truncated: 0,
    });
    expect(r.batch.alerts).toEqual([
      {
        source: 'pagerduty',
        fingerprint: 'pagerduty:PGR0VU2',
        status: 'firing',
        labels: {
          alertname: 'A little bump in the road',
          service: 'API Service',
          service_id: 'PF9KMXH',
          priority: 'P1',
          urgency: 'high',
          incident_number: '2',
        },
        annotations: {
          summary: 'A little bump in the road',
          pagerduty_event: 'incident.priority_updated',
          pagerduty_status: 'triggered',
          incident_key: 'd3640fbd41094207a1c11e58e46b1662',
        },
        startsAt: '2020-04-09T15:16:27.000Z',
        endsAt: null,
        generatorURL: 'https://acme.pagerduty.com/incidents/PGR0VU2',
        groupKey: 'pagerduty:PGR0VU2',
      },
    ]);
  });

  it('reads the exact body PagerDuty signs in its client library test', () => {
    const r = adaptPagerDuty(JSON.parse(fixture('pagerduty-signed-body.json').toString()));
    expect(r.ok && r.batch?.alerts[0].fingerprint).toBe('pagerduty:PGR0VU2');
  });

  it('resolves the alert on incident.resolved (and on a resolved incident)', () => {
    const e = fixtureJson<Event>('pagerduty-incident-priority-updated.json');
    e.event.event_type = 'incident.resolved';
    e.event.data.status = 'resolved';
    const r = adaptPagerDuty(e);
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch.alerts[0]).toMatchObject({
      fingerprint: 'pagerduty:PGR0VU2',
      status: 'resolved',
      endsAt: '2020-10-02T18:45:22.169Z',
    });
    e.event.event_type = 'incident.acknowledged';
    e.event.data.status = 'acknowledged';
    const ack = adaptPagerDuty(e);
    expect(ack.ok && ack.batch?.alerts[0].status).toBe('firing');
  });

  it('understands the nested incident of incident.annotated, which changes no status', () => {
    const r = adaptPagerDuty(annotated());
    expect(r).toEqual({
      ok: true,
      batch: null,
      ignored: 'incident.annotated on incident PGR0VU2 carries no incident status',
    });
    const broken = annotated();
    delete (broken.event.data.incident as Record<string, unknown>).id;
    const bad = adaptPagerDuty(broken);
    expect(!bad.ok && bad.problems.map((p) => p.path)).toEqual(['event.data.incident.id']);
  });

  it('ignores events that are not about incidents (the published service.updated)', () => {
    expect(adaptPagerDuty(fixtureJson('pagerduty-service-updated.json'))).toEqual({
      ok: true,
      batch: null,
      ignored: 'service.updated is not an incident event',
    });
  });

  it('refuses a wrong shape, naming the field path', () => {
    const e = fixtureJson<Event>('pagerduty-incident-priority-updated.json');
    e.event.data.status = 'exploded';
    delete e.event.id;
    const r = adaptPagerDuty(e);
    expect(!r.ok && r.problems.map((p) => p.path).sort()).toEqual(['event.id']);
    const e2 = fixtureJson<Event>('pagerduty-incident-priority-updated.json');
    e2.event.data.status = 'exploded';
    const r2 = adaptPagerDuty(e2);
    expect(!r2.ok && r2.problems.map((p) => p.path)).toEqual(['event.data.status']);
    expect(adaptPagerDuty({}).ok).toBe(false);
  });
});
