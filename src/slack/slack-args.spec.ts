import { parseRunArgs, UsageError, words } from './slack-args.js';

describe('slash command arguments', () => {
  it('splits with shell quoting, typographic quotes included', () => {
    expect(words('run deploy msg="two words" n=3')).toEqual([
      'run',
      'deploy',
      'msg=two words',
      'n=3',
    ]);
    expect(words("run x note='it''s' a=\"b c\"")).toEqual(['run', 'x', 'note=its', 'a=b c']);
    expect(words('run x msg=\u201ctwo words\u201d')).toEqual(['run', 'x', 'msg=two words']);
    expect(words('  ')).toEqual([]);
    expect(() => words('run x msg="open')).toThrow(UsageError);
  });

  it('reads options, on NODES and for INC-N, naming the bad word', () => {
    expect(
      parseRunArgs(['a=1', 'msg=two words', 'on', 'web-1,web-2', 'for', 'inc-42'], true),
    ).toEqual({
      options: { a: '1', msg: 'two words' },
      nodes: ['web-1', 'web-2'],
      incident: 'INC-42',
    });
    expect(parseRunArgs(['empty='], false)).toEqual({ options: { empty: '' } });
    const err = (rest: string[], allow = true) => {
      try {
        parseRunArgs(rest, allow);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error('expected a usage error');
    };
    expect(err(['oops'])).toMatch(/^oops: expected key=value/);
    expect(err(['=1'])).toMatch(/^=1: expected key=value/);
    expect(err(['a b=1'])).toMatch(/^option a b: not a valid option name/);
    expect(err(['a=1', 'a=2'])).toMatch(/option a: given twice/);
    expect(err(['on'])).toMatch(/`on` needs a value/);
    expect(err(['on', 'web;1'])).toMatch(/on web;1: expected node names/);
    expect(err(['for', '42'])).toMatch(/for 42: expected INC-<number>/);
    expect(err(['for', 'INC-1'], false)).toMatch(/applies to `run` only/);
  });
});
