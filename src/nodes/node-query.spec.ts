import { DomainException } from '../common/errors.js';
import { parseNodeQuery } from './node-query.js';

const problems = (raw: Record<string, unknown>) => {
  try {
    parseNodeQuery(raw);
  } catch (e) {
    if (e instanceof DomainException) return e.details;
    throw e;
  }
  return [];
};

describe('node list query', () => {
  it('turns parameters into a node filter', () => {
    expect(
      parseNodeQuery({
        name: 'web-*',
        tag: ['linux', 'web'],
        tagAny: 'a',
        cluster: 'prod',
        exclude: ['web-3'],
        'attr.environment': 'production',
        'attr.region': 'eu-west-1',
        includeDisabled: 'true',
      }),
    ).toEqual({
      filter: {
        names: ['web-*'],
        tags: ['linux', 'web'],
        tagsAny: ['a'],
        cluster: 'prod',
        exclude: ['web-3'],
        attributes: { environment: 'production', region: 'eu-west-1' },
      },
      includeDisabled: true,
    });
    expect(parseNodeQuery({})).toEqual({ filter: {}, includeDisabled: false });
  });

  it('takes the whole filter as JSON', () => {
    const filter = { tags: ['db'], attributes: { environment: 'staging' } };
    expect(parseNodeQuery({ filter: JSON.stringify(filter) }).filter).toEqual(filter);
  });

  it('names every bad parameter', () => {
    expect(
      problems({
        tags: 'web',
        includeDisabled: 'yes',
        'attr.bad key': 'x',
        'attr.environment': ['a', 'b'],
      }),
    ).toEqual([
      { path: 'tags', message: 'unknown query parameter (did you mean "tag"?)' },
      { path: 'includeDisabled', message: 'must be true or false' },
      { path: 'attr.bad key', message: expect.stringMatching(/attribute names/) },
      { path: 'attr.environment', message: 'must be given once, as a string' },
    ]);
    expect(problems({ filter: '{nope' })).toEqual([
      { path: 'filter', message: 'must be a node filter as JSON' },
    ]);
    expect(problems({ filter: '{"tag":["x"]}' })).toEqual([
      { path: 'filter', message: 'unknown key "tag"' },
    ]);
    expect(problems({ filter: '{"tags":"x"}', name: 'a' })).toEqual([
      { path: 'filter', message: expect.stringMatching(/either filter or/) },
      { path: 'filter.tags', message: expect.stringMatching(/expected array/) },
    ]);
  });
});
