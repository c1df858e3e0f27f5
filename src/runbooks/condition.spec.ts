import {
  ConditionError,
  conditionPaths,
  evaluate,
  parseCondition,
  test as check,
  type Expr,
} from './condition.js';

const ctx = {
  options: {
    force: true,
    off: false,
    count: 5,
    service: 'nginx',
    env: 'production',
    empty: '',
    zero: 0,
    list: ['a', 'b'],
    none: [],
    nothing: null,
  },
  node: {
    name: 'web-1',
    attributes: { environment: 'production', region: 'eu-west-1', cpus: '16', weight: '2.5' },
  },
  steps: { probe: { captures: { version: '1.10', status: 'ok' } } },
};

const run = (src: string, c: Record<string, unknown> = ctx) => check(src, c);
const value = (src: string, c: Record<string, unknown> = ctx) => evaluate(parseCondition(src), c);

function conditionError(src: string): ConditionError {
  try {
    parseCondition(src);
  } catch (e) {
    if (e instanceof ConditionError) return e;
    throw e;
  }
  throw new Error(`expected ${src} to be rejected`);
}

describe('parseCondition', () => {
  it('builds a tree of literals, paths and comparisons', () => {
    expect(parseCondition('node.attributes.environment == "production"')).toEqual({
      kind: 'compare',
      op: '==',
      left: { kind: 'path', path: ['node', 'attributes', 'environment'] },
      right: { kind: 'literal', value: 'production' },
    });
  });

  it('parses literals: strings in either quote, numbers, booleans, null', () => {
    expect(parseCondition("'single'")).toEqual({ kind: 'literal', value: 'single' });
    expect(parseCondition('"double"')).toEqual({ kind: 'literal', value: 'double' });
    expect(parseCondition('-1.5')).toEqual({ kind: 'literal', value: -1.5 });
    expect(parseCondition('42')).toEqual({ kind: 'literal', value: 42 });
    expect(parseCondition('true')).toEqual({ kind: 'literal', value: true });
    expect(parseCondition('false')).toEqual({ kind: 'literal', value: false });
    expect(parseCondition('null')).toEqual({ kind: 'literal', value: null });
  });

  it('unescapes backslashes in strings', () => {
    expect(parseCondition('"a \\"quoted\\" \\\\ word"')).toEqual({
      kind: 'literal',
      value: 'a "quoted" \\ word',
    });
  });

  it('parses lists, including the empty list', () => {
    expect(parseCondition('[1, "a", options.x]')).toEqual({
      kind: 'list',
      items: [
        { kind: 'literal', value: 1 },
        { kind: 'literal', value: 'a' },
        { kind: 'path', path: ['options', 'x'] },
      ],
    });
    expect(parseCondition('[]')).toEqual({ kind: 'list', items: [] });
  });

  it('gives and precedence over or, and not precedence over both', () => {
    const a: Expr = { kind: 'path', path: ['a'] };
    const b: Expr = { kind: 'path', path: ['b'] };
    const c: Expr = { kind: 'path', path: ['c'] };
    expect(parseCondition('a or b and c')).toEqual({
      kind: 'or',
      left: a,
      right: { kind: 'and', left: b, right: c },
    });
    expect(parseCondition('not a and b')).toEqual({
      kind: 'and',
      left: { kind: 'not', operand: a },
      right: b,
    });
    expect(parseCondition('(a or b) and c')).toEqual({
      kind: 'and',
      left: { kind: 'or', left: a, right: b },
      right: c,
    });
  });

  it('binds not to a whole comparison', () => {
    expect(parseCondition('not a == 1')).toEqual({
      kind: 'not',
      operand: {
        kind: 'compare',
        op: '==',
        left: { kind: 'path', path: ['a'] },
        right: { kind: 'literal', value: 1 },
      },
    });
  });

  it('ignores whitespace, including none around operators', () => {
    expect(parseCondition('a==1')).toEqual(parseCondition('  a   ==\n1\t'));
  });

  describe('errors carry the offset of the problem', () => {
    it.each([
      ['', 'expected a value', 0],
      ['   ', 'expected a value', 3],
      ['options.x == "abc', 'unterminated string', 13],
      ["options.x == 'abc\\'", 'unterminated string', 13],
      ['options.x == "a" ; process.exit(1)', 'unexpected character ";"', 17],
      ['options.x = "a"', 'unexpected character "="', 10],
      ['options.x && options.y', 'unexpected character "&"', 10],
      ['!options.x', 'unexpected character "!"', 0],
      ['options.x + 1', 'unexpected character "+"', 10],
      ['`id`', 'unexpected character "`"', 0],
      ['$(id)', 'unexpected character "$"', 0],
      ['options .x', 'unexpected character "."', 8],
      ['options.x "a"', 'unexpected "a"', 10],
      ['options.x == 1 2', 'unexpected "2"', 15],
      ['a == b == c', 'unexpected "=="', 7],
      ['(a == 1', 'expected ")"', 7],
      ['(a == 1]', 'expected ")"', 7],
      ['[1, 2', 'expected "]"', 5],
      ['[1 2]', 'expected "]"', 3],
      ['a ==', 'expected a value', 4],
      ['a == and', 'expected a value, got and', 5],
      ['in', 'expected a value, got in', 0],
      ['== 1', 'unexpected "=="', 0],
      [')', 'unexpected ")"', 0],
      ['a and', 'expected a value', 5],
      ['options.x matches options.y', 'matches needs a string literal pattern', 10],
      ['options.x matches 1', 'matches needs a string literal pattern', 10],
      ['options.x matches ["a"]', 'matches needs a string literal pattern', 10],
    ])('%j → %s at %i', (src, message, offset) => {
      const err = conditionError(src);
      expect(err.message).toBe(message);
      expect(err.offset).toBe(offset);
      expect(err.name).toBe('ConditionError');
    });

    it('rejects an invalid regular expression in matches', () => {
      const err = conditionError('options.x matches "(unclosed"');
      expect(err.message).toMatch(/^invalid pattern: /);
      expect(err.offset).toBe(10);
    });

    it('rejects conditions longer than 1000 characters', () => {
      const err = conditionError(`a == "${'x'.repeat(1000)}"`);
      expect(err.message).toBe('condition longer than 1000 characters');
      expect(err.offset).toBe(0);
    });
  });
});

describe('evaluate', () => {
  describe('== and !=', () => {
    it.each([
      ['options.service == "nginx"', true],
      ["options.service == 'apache'", false],
      ['options.service != "apache"', true],
      ['options.service != "nginx"', false],
      ['options.force == true', true],
      ['options.off == false', true],
      ['options.nothing == null', true],
      ['options.missing == null', true],
      ['options.count == 5', true],
      ['options.count == "5"', true],
      ['node.attributes.cpus == 16', true],
      ['node.attributes.cpus == 16.0', true],
      ['node.attributes.cpus != 16', false],
      ['"1.0" == "1"', true],
      ['"" == 0', false],
      ['"abc" == "ABC"', false],
      ['true == "true"', false],
    ])('%s → %s', (src, expected) => {
      expect(run(src)).toBe(expected);
    });
  });

  describe('<, <=, >, >= compare numbers, numeric strings included', () => {
    it.each([
      ['options.count < 10', true],
      ['options.count <= 5', true],
      ['options.count > 5', false],
      ['options.count >= 5', true],
      ['node.attributes.cpus > 8', true],
      // As numbers, not strings: "16" < "8" as text but 16 > 8 as numbers.
      ['node.attributes.cpus > "8"', true],
      ['steps.probe.captures.version > 1.9', false],
      ['node.attributes.weight >= 2.5', true],
      ['-1 < 0', true],
      ['0 > -0.5', true],
    ])('%s → %s', (src, expected) => {
      expect(run(src)).toBe(expected);
    });

    it.each([
      'options.service < 10',
      'options.service > 10',
      '"b" > "a"',
      'options.missing < 1',
      'options.missing >= 0',
      'options.force > 0',
      'options.empty < 1',
    ])('is false when a side is not a number: %s', (src) => {
      expect(run(src)).toBe(false);
    });
  });

  describe('in', () => {
    it.each([
      ['options.env in ["production", "staging"]', true],
      ['options.env in ["dev", "staging"]', false],
      ['options.count in [1, 5]', true],
      ['options.count in ["5"]', true],
      ['"a" in options.list', true],
      ['"c" in options.list', false],
      ['"x" in []', false],
      ['"prod" in options.env', true],
      ['"eu-" in node.attributes.region', true],
      ['"us-" in node.attributes.region', false],
      ['5 in "12345"', false],
      ['"a" in options.missing', false],
      ['options.missing in ["a"]', false],
    ])('%s → %s', (src, expected) => {
      expect(run(src)).toBe(expected);
    });
  });

  describe('matches', () => {
    it.each([
      ['node.name matches "^web-[0-9]+$"', true],
      ['node.name matches "^db-"', false],
      ['node.name matches "eb"', true],
      ['options.count matches "5"', false],
      ['options.missing matches ".*"', false],
      ['node.attributes.region matches "^eu-(west|north)-\\\\d$"', true],
    ])('%s → %s', (src, expected) => {
      expect(run(src)).toBe(expected);
    });
  });

  describe('and, or, not, parentheses', () => {
    it.each([
      ['options.force and options.count > 1', true],
      ['options.force and options.off', false],
      ['options.off or options.force', true],
      ['options.off or options.empty', false],
      ['not options.off', true],
      ['not not options.force', true],
      ['not options.missing', true],
      // and binds tighter: true or (false and false)
      ['options.force or options.off and options.off', true],
      ['(options.force or options.off) and options.off', false],
      ['not (options.force and options.off)', true],
      ['options.env == "production" and not (node.name in ["web-2", "web-3"])', true],
    ])('%s → %s', (src, expected) => {
      expect(run(src)).toBe(expected);
    });

    it('returns booleans from and/or', () => {
      expect(value('options.service and options.count')).toBe(true);
      expect(value('options.empty or options.zero')).toBe(false);
    });
  });

  describe('paths', () => {
    it('reads nested values', () => {
      expect(value('steps.probe.captures.status')).toBe('ok');
      expect(value('node.attributes.region')).toBe('eu-west-1');
      expect(value('options.list')).toEqual(['a', 'b']);
    });

    it.each([
      'options.missing',
      'nothing.at.all',
      'options.service.length',
      'node.attributes.region.x',
    ])('evaluates the missing path %s to null', (src) => {
      expect(value(src)).toBeNull();
      expect(run(src)).toBe(false);
    });

    it.each([
      '__proto__',
      'options.__proto__',
      'constructor',
      'options.constructor',
      'options.constructor.constructor',
      'options.service.constructor',
      'options.hasOwnProperty',
      'options.toString',
      'node.attributes.__proto__.polluted',
    ])('resolves the inherited property %s to null', (src) => {
      expect(value(src)).toBeNull();
    });

    it('treats null, false, "", 0 and [] as false and everything else as true', () => {
      for (const src of [
        'options.nothing',
        'options.off',
        'options.empty',
        'options.zero',
        'options.none',
      ])
        expect(run(src)).toBe(false);
      for (const src of [
        'options.force',
        'options.count',
        'options.service',
        'options.list',
        '"0"',
        '"false"',
      ])
        expect(run(src)).toBe(true);
    });
  });

  describe('nothing a user writes is ever run as code', () => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).polluted;
    });

    it('rejects a statement separator with its offset', () => {
      expect(() => run('options.x == "a" ; process.exit(1)')).toThrow(ConditionError);
    });

    it('rejects a call through constructor.constructor', () => {
      const err = conditionError('constructor.constructor("return process")()');
      expect(err.message).toBe('unexpected "("');
      expect(err.offset).toBe(23);
    });

    it('evaluates code-like strings as plain data', () => {
      let called = false;
      const c = {
        options: {
          x: 'process.exit(1)',
          fn: () => {
            called = true;
            return 'y';
          },
        },
      };
      expect(run('options.x == "process.exit(1)"', c)).toBe(true);
      expect(run('"require(\'child_process\')" in options.x', c)).toBe(false);
      // A function value is a value, never called.
      expect(value('options.fn', c)).toBe(c.options.fn);
      expect(run('options.fn == "y"', c)).toBe(false);
      expect(called).toBe(false);
    });

    it('never writes to the context or to prototypes', () => {
      const c = { options: { a: 1 } };
      run('options.a == 1 and options.__proto__.polluted == 1', c);
      expect(c).toEqual({ options: { a: 1 } });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});

describe('test', () => {
  it('parses and evaluates to a boolean', () => {
    expect(check('options.count', ctx)).toBe(true);
    expect(check('options.zero', ctx)).toBe(false);
    expect(check('options.list', ctx)).toBe(true);
  });

  it('throws ConditionError for bad input', () => {
    expect(() => check('a ==', ctx)).toThrow(ConditionError);
  });
});

describe('conditionPaths', () => {
  it('lists every path a condition reads, in order, through every construct', () => {
    expect(
      conditionPaths(
        parseCondition(
          'not (options.a == 1) and node.attributes.env in [options.b, "x"] or steps.s.captures.v matches "^1"',
        ),
      ),
    ).toEqual([
      ['options', 'a'],
      ['node', 'attributes', 'env'],
      ['options', 'b'],
      ['steps', 's', 'captures', 'v'],
    ]);
  });

  it('lists nothing for literals only', () => {
    expect(conditionPaths(parseCondition('1 < 2 and "a" in ["a"] and not false'))).toEqual([]);
  });

  it('lists a bare path', () => {
    expect(conditionPaths(parseCondition('options.force'))).toEqual([['options', 'force']]);
  });
});
