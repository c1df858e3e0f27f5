/**
 * `when:` conditions: a small expression language, parsed into a tree and interpreted. Never
 * `eval`, never `new Function`. Grammar:
 *
 *   expr    := or
 *   or      := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | compare
 *   compare := value (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'matches') value)?
 *   value   := string | number | true | false | null | path | '[' value (',' value)* ']' | '(' expr ')'
 *   path    := name ('.' name)*          e.g. options.force, node.attributes.environment
 */

export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'path'; path: string[] }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr };

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'matches';

export class ConditionError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}

type Token = { t: 'str' | 'num' | 'name' | 'op' | 'punct'; v: string; at: number };

const MAX_LENGTH = 1000;

function tokenize(src: string): Token[] {
  if (src.length > MAX_LENGTH)
    throw new ConditionError(`condition longer than ${MAX_LENGTH} characters`, 0);
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== ch) {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        s += src[j++];
      }
      if (j >= src.length) throw new ConditionError('unterminated string', i);
      out.push({ t: 'str', v: s, at: i });
      i = j + 1;
    } else if (/[0-9]/.test(ch) || (ch === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[0], at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*/.exec(src.slice(i))!;
      out.push({ t: 'name', v: m[0], at: i });
      i += m[0].length;
    } else {
      const two = src.slice(i, i + 2);
      if (['==', '!=', '<=', '>='].includes(two)) {
        out.push({ t: 'op', v: two, at: i });
        i += 2;
      } else if (ch === '<' || ch === '>') {
        out.push({ t: 'op', v: ch, at: i++ });
      } else if ('()[],'.includes(ch)) {
        out.push({ t: 'punct', v: ch, at: i++ });
      } else {
        throw new ConditionError(`unexpected character ${JSON.stringify(ch)}`, i);
      }
    }
  }
  return out;
}

export function parseCondition(src: string): Expr {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const end = src.length;
  const expectPunct = (v: string) => {
    const t = tokens[pos];
    if (!t || t.t !== 'punct' || t.v !== v)
      throw new ConditionError(`expected ${JSON.stringify(v)}`, t?.at ?? end);
    pos++;
  };
  const isWord = (w: string) => peek()?.t === 'name' && peek().v === w;

  const value = (): Expr => {
    const t = tokens[pos];
    if (!t) throw new ConditionError('expected a value', end);
    if (t.t === 'str') return (pos++, { kind: 'literal', value: t.v });
    if (t.t === 'num') return (pos++, { kind: 'literal', value: Number(t.v) });
    if (t.t === 'name') {
      pos++;
      if (t.v === 'true' || t.v === 'false') return { kind: 'literal', value: t.v === 'true' };
      if (t.v === 'null') return { kind: 'literal', value: null };
      if (['and', 'or', 'not', 'in', 'matches'].includes(t.v))
        throw new ConditionError(`expected a value, got ${t.v}`, t.at);
      return { kind: 'path', path: t.v.split('.') };
    }
    if (t.t === 'punct' && t.v === '(') {
      pos++;
      const e = or();
      expectPunct(')');
      return e;
    }
    if (t.t === 'punct' && t.v === '[') {
      pos++;
      const items: Expr[] = [];
      if (!(peek()?.t === 'punct' && peek().v === ']')) {
        items.push(value());
        while (peek()?.t === 'punct' && peek().v === ',') {
          pos++;
          items.push(value());
        }
      }
      expectPunct(']');
      return { kind: 'list', items };
    }
    throw new ConditionError(`unexpected ${JSON.stringify(t.v)}`, t.at);
  };
  const compare = (): Expr => {
    const left = value();
    const t = peek();
    if (t && (t.t === 'op' || (t.t === 'name' && (t.v === 'in' || t.v === 'matches')))) {
      pos++;
      const right = value();
      if (t.v === 'matches') {
        if (right.kind !== 'literal' || typeof right.value !== 'string') {
          throw new ConditionError('matches needs a string literal pattern', t.at);
        }
        try {
          new RegExp(right.value);
        } catch (e) {
          throw new ConditionError(`invalid pattern: ${(e as Error).message}`, t.at);
        }
      }
      return { kind: 'compare', op: t.v as CompareOp, left, right };
    }
    return left;
  };
  const not = (): Expr => {
    if (isWord('not')) {
      pos++;
      return { kind: 'not', operand: not() };
    }
    return compare();
  };
  const and = (): Expr => {
    let left = not();
    while (isWord('and')) {
      pos++;
      left = { kind: 'and', left, right: not() };
    }
    return left;
  };
  const or = (): Expr => {
    let left = and();
    while (isWord('or')) {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const e = or();
  if (pos < tokens.length)
    throw new ConditionError(`unexpected ${JSON.stringify(tokens[pos].v)}`, tokens[pos].at);
  return e;
}

/** Every path a condition reads, for linting against the runbook's options and steps. */
export function conditionPaths(e: Expr): string[][] {
  switch (e.kind) {
    case 'path':
      return [e.path];
    case 'literal':
      return [];
    case 'list':
      return e.items.flatMap(conditionPaths);
    case 'not':
      return conditionPaths(e.operand);
    default:
      return [...conditionPaths(e.left), ...conditionPaths(e.right)];
  }
}

function lookup(path: string[], ctx: Record<string, unknown>): unknown {
  let cur: unknown = ctx;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, p))
      return null;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur ?? null;
}

function truthy(v: unknown): boolean {
  return !(
    v === null ||
    v === false ||
    v === '' ||
    v === 0 ||
    (Array.isArray(v) && v.length === 0)
  );
}

/** Numbers compare as numbers (numeric strings included, as labels and captures are strings). */
function num(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return null;
}

function equal(a: unknown, b: unknown): boolean {
  const na = num(a);
  const nb = num(b);
  if (na !== null && nb !== null) return na === nb;
  return a === b;
}

export function evaluate(e: Expr, ctx: Record<string, unknown>): unknown {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'path':
      return lookup(e.path, ctx);
    case 'list':
      return e.items.map((i) => evaluate(i, ctx));
    case 'not':
      return !truthy(evaluate(e.operand, ctx));
    case 'and':
      return truthy(evaluate(e.left, ctx)) && truthy(evaluate(e.right, ctx));
    case 'or':
      return truthy(evaluate(e.left, ctx)) || truthy(evaluate(e.right, ctx));
    case 'compare': {
      const l = evaluate(e.left, ctx);
      const r = evaluate(e.right, ctx);
      switch (e.op) {
        case '==':
          return equal(l, r);
        case '!=':
          return !equal(l, r);
        case 'in':
          return Array.isArray(r)
            ? r.some((x) => equal(l, x))
            : typeof r === 'string' && typeof l === 'string' && r.includes(l);
        case 'matches':
          return typeof l === 'string' && new RegExp(r as string).test(l);
        default: {
          const a = num(l);
          const b = num(r);
          if (a === null || b === null) return false;
          return e.op === '<' ? a < b : e.op === '<=' ? a <= b : e.op === '>' ? a > b : a >= b;
        }
      }
    }
  }
}

export function test(condition: string, ctx: Record<string, unknown>): boolean {
  return truthy(evaluate(parseCondition(condition), ctx));
}
