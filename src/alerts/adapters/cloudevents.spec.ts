import { adaptCloudEvent } from './cloudevents.js';
import { fixtureJson } from './fixtures.js';

type Event = Record<string, unknown> & { data?: Record<string, unknown> };

describe('the CloudEvents 1.0 adapter (spec and Keptn examples)', () => {
  it('maps the Keptn remediation.triggered event (structured mode) to a firing alert', () => {
    const r = adaptCloudEvent({
      mode: 'structured',
      headers: {},
      body: fixtureJson('keptn-remediation-triggered.json'),
    });
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch.groupKey).toBe('cloudevents:keptn:a3e5f16d-8888-4720-82c7-6995062905c1');
    expect(r.batch.eventId).toMatch(/^ce:[0-9a-f]{40}$/);
    expect(r.batch.alerts).toEqual([
      {
        source: 'cloudevents',
        fingerprint: 'keptn:a3e5f16d-8888-4720-82c7-6995062905c1',
        status: 'firing',
        labels: {
          alertname: 'cpu_usage_sockshop_carts',
          project: 'sockshop',
          stage: 'production',
          service: 'carts',
          impacted_entity: 'carts-primary',
          instance: 'web-1',
          ce_source: 'source-service',
          ce_type: 'sh.keptn.event.remediation.triggered',
        },
        annotations: { summary: 'cpu_usage_sockshop_carts', problem_id: '762' },
        startsAt: null,
        endsAt: null,
        generatorURL: 'http://problem.url.com',
        groupKey: 'cloudevents:keptn:a3e5f16d-8888-4720-82c7-6995062905c1',
      },
    ]);
  });

  it('resolves the same alert on remediation.finished of the same Keptn context', () => {
    const e = fixtureJson<Event>('keptn-remediation-triggered.json');
    const triggered = adaptCloudEvent({ mode: 'structured', headers: {}, body: e });
    Object.assign(e, {
      id: 'f4536da6-2d60-4706-8575-6607876eec09',
      type: 'sh.keptn.event.remediation.finished',
      time: '2026-12-01T10:05:00Z',
    });
    const finished = adaptCloudEvent({ mode: 'structured', headers: {}, body: e });
    if (!triggered.ok || !triggered.batch || !finished.ok || !finished.batch)
      throw new Error('not adapted');
    expect(finished.batch.alerts[0]).toMatchObject({
      fingerprint: triggered.batch.alerts[0].fingerprint,
      status: 'resolved',
      endsAt: '2026-12-01T10:05:00.000Z',
    });
    expect(finished.batch.eventId).not.toBe(triggered.batch.eventId);
  });

  it('reads the JSON format example of the spec (non-JSON data is left alone)', () => {
    const r = adaptCloudEvent({
      mode: 'structured',
      headers: {},
      body: fixtureJson('cloudevents-structured.json'),
    });
    if (!r.ok || !r.batch) throw new Error(JSON.stringify(r));
    expect(r.batch.groupKey).toBe('cloudevents:https://github.com/cloudevents/spec/pull/123');
    expect(r.batch.alerts[0]).toMatchObject({
      status: 'firing',
      labels: {
        alertname: 'com.github.pull_request.opened',
        ce_source: 'https://github.com/cloudevents/spec/pull',
        ce_subject: '123',
        ce_type: 'com.github.pull_request.opened',
      },
      startsAt: '2018-04-05T17:31:00.000Z',
    });
  });

  it('reads binary mode: the attributes from ce-* headers, the data from the body', () => {
    const keptn = fixtureJson<Event>('keptn-remediation-triggered.json');
    const binary = adaptCloudEvent({
      mode: 'binary',
      headers: {
        'ce-specversion': '1.0',
        'ce-type': 'sh.keptn.event.remediation.triggered',
        'ce-source': 'source-service',
        'ce-id': 'c4d3a334-6cb9-4e8c-a372-7e0b45942f53',
        'ce-shkeptncontext': 'a3e5f16d-8888-4720-82c7-6995062905c1',
        'content-type': 'application/json',
        authorization: 'Bearer x',
      },
      body: keptn.data,
    });
    const structured = adaptCloudEvent({ mode: 'structured', headers: {}, body: keptn });
    expect(binary).toEqual(structured);
  });

  it('refuses a wrong event, naming the attribute (as a header in binary mode)', () => {
    const e = fixtureJson<Event>('keptn-remediation-triggered.json');
    delete e.id;
    e.specversion = '0.3';
    const r = adaptCloudEvent({ mode: 'structured', headers: {}, body: e });
    expect(!r.ok && r.problems.map((p) => p.path).sort()).toEqual(['id', 'specversion']);
    const b = adaptCloudEvent({
      mode: 'binary',
      headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's' },
      body: undefined,
    });
    expect(!b.ok && b.problems.map((p) => p.path)).toEqual(['header ce-type']);
    const long = adaptCloudEvent({
      mode: 'binary',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': 's',
        'ce-type': 't',
        'ce-shkeptncontext': 'x'.repeat(101),
      },
      body: undefined,
    });
    expect(!long.ok && long.problems.map((p) => p.path)).toEqual(['header ce-shkeptncontext']);
    const d = fixtureJson<Event>('keptn-remediation-triggered.json');
    d.data!.problem = { ProblemTitle: 7 };
    const bad = adaptCloudEvent({ mode: 'structured', headers: {}, body: d });
    expect(!bad.ok && bad.problems.map((p) => p.path)).toEqual(['data.problem.ProblemTitle']);
  });
});
