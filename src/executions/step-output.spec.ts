import { evaluateCheck, extractCaptures, jsonPath } from './step-output.js';

describe('jsonPath', () => {
  const doc = { model: { version: 'v7', previous_version: null }, items: [{ id: 1 }, { id: 2 }] };
  it.each([
    ['$.model.version', 'v7'],
    ['$.model.previous_version', null],
    ['$.items[1].id', 2],
    ['$.nope', undefined],
    ['$.items[5].id', undefined],
    ['$.model.version.length', undefined],
    ['$.constructor', undefined],
  ])('%s → %j', (path, want) => {
    expect(jsonPath(doc, path)).toEqual(want);
  });
});

describe('extractCaptures', () => {
  it('takes the first regex group, JSON paths and lines', () => {
    const out = '{"version":"v7","previous_version":"v6","n":3}';
    expect(
      extractCaptures(
        { cur: { json: '$.version' }, prev: { json: '$.previous_version' }, n: { json: '$.n' } },
        out,
      ),
    ).toEqual({
      values: { cur: 'v7', prev: 'v6', n: '3' },
      missing: [],
    });
    expect(
      extractCaptures({ pid: { regex: 'pid=(\\d+)' }, first: { line: 1 } }, 'started\npid=42 ok'),
    ).toEqual({
      values: { pid: '42', first: 'started' },
      missing: [],
    });
  });

  it('names what it could not find', () => {
    expect(
      extractCaptures({ a: { regex: 'x=(\\d)' }, b: { json: '$.b' } }, 'not json').missing,
    ).toEqual(['a', 'b']);
  });
});

describe('evaluateCheck', () => {
  const id = (v: unknown) => v;
  it('passes when every assertion holds', () => {
    expect(
      evaluateCheck({ exitCode: 0, stdout: '^active$' }, { exitCode: 0, output: 'active\n' }, id),
    ).toEqual([]);
  });

  it('names each failed assertion', () => {
    expect(
      evaluateCheck({ exitCode: 0, stdout: '^active$' }, { exitCode: 3, output: 'failed' }, id),
    ).toEqual(['exit code 3, expected 0', 'output does not match /^active$/']);
  });

  it('compares JSON values against rendered thresholds', () => {
    const render = (v: unknown) => (v === '{{ options.max }}' ? 0.02 : v);
    expect(
      evaluateCheck(
        { json: [{ path: '$.error_rate', lt: '{{ options.max }}' }] },
        { status: 200, output: '{"error_rate":0.08}' },
        render,
      ),
    ).toEqual(['$.error_rate is 0.08, expected < 0.02']);
    expect(
      evaluateCheck(
        { json: [{ path: '$.error_rate', lt: '{{ options.max }}' }] },
        { status: 200, output: '{"error_rate":0.01}' },
        render,
      ),
    ).toEqual([]);
  });

  it('eq, ne (null means absent), matches and status', () => {
    const out = '{"version":"v6","previous_version":null,"name":"resnet-50"}';
    expect(
      evaluateCheck(
        {
          status: [200],
          json: [
            { path: '$.version', eq: 'v6' },
            { path: '$.previous_version', ne: null },
            { path: '$.name', matches: '^resnet' },
          ],
        },
        { status: 503, output: out },
        id,
      ),
    ).toEqual([
      'HTTP status 503, expected 200',
      '$.previous_version is null, expected anything but null',
    ]);
  });

  it('a body that is not JSON fails JSON assertions', () => {
    expect(
      evaluateCheck({ json: [{ path: '$.a', eq: 1 }] }, { status: 200, output: '<html>' }, id),
    ).toEqual(['output is not JSON']);
  });
});
