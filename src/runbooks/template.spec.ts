import { execFileSync } from 'node:child_process';
import {
  checkPath,
  MASK,
  parseTemplate,
  unsafeTemplateRefs,
  renderShell,
  renderStructured,
  renderText,
  renderUrl,
  shellQuote,
  TemplateError,
  templateRefs,
  type TemplateScope,
  type TemplateValues,
} from './template.js';

const scope = (over: Partial<TemplateScope> = {}): TemplateScope => ({
  options: new Set(['service', 'count']),
  steps: new Map([['fetch', new Set(['version'])]]),
  node: true,
  alert: false,
  ...over,
});

const node = {
  name: 'web-1',
  hostname: 'web-1.example.internal',
  port: 2222,
  user: 'deploy',
  attributes: { region: 'eu-west-1', environment: 'production' },
};

/** Runs a rendered command with the real POSIX shell; the one place a spec spawns a process. */
const sh = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });

const PRINT = "printf '[%s]\\n' {{ options.v }}";

describe('parseTemplate', () => {
  it('returns a single literal for text without references', () => {
    expect(parseTemplate('systemctl restart nginx')).toEqual([
      { literal: 'systemctl restart nginx' },
    ]);
  });

  it('returns no segments for the empty string', () => {
    expect(parseTemplate('')).toEqual([]);
  });

  it('splits literals and references, trimming the path and keeping offsets', () => {
    expect(parseTemplate('restart {{ options.service }} on {{node.name}}!')).toEqual([
      { literal: 'restart ' },
      { path: ['options', 'service'], source: 'options.service', offset: 8 },
      { literal: ' on ' },
      { path: ['node', 'name'], source: 'node.name', offset: 33 },
      { literal: '!' },
    ]);
  });

  it('handles adjacent references and a reference at the very start and end', () => {
    expect(parseTemplate('{{ a.b }}{{ c.d }}')).toEqual([
      { path: ['a', 'b'], source: 'a.b', offset: 0 },
      { path: ['c', 'd'], source: 'c.d', offset: 9 },
    ]);
  });

  it('accepts dashes and underscores in path segments', () => {
    const [seg] = parseTemplate('{{ steps.pre-check.captures.my_value }}');
    expect(seg).toMatchObject({ path: ['steps', 'pre-check', 'captures', 'my_value'] });
  });

  it('leaves a lone } or { as literal text', () => {
    expect(parseTemplate('awk { print } }')).toEqual([{ literal: 'awk { print } }' }]);
  });

  it('rejects an unclosed {{ with its offset', () => {
    const err = catchTemplateError(() => parseTemplate('echo ok {{ options.x'));
    expect(err.message).toBe('unclosed {{ (expected }})');
    expect(err.offset).toBe(8);
    expect(err.name).toBe('TemplateError');
  });

  it.each([
    ['{{ process.exit() }}', 'process.exit()'],
    ['{{ a + b }}', 'a + b'],
    ['{{ options.x || "y" }}', 'options.x || "y"'],
    ['{{ options["x"] }}', 'options["x"]'],
    ['{{ options..x }}', 'options..x'],
    ['{{ .x }}', '.x'],
    ['{{ 1abc }}', '1abc'],
    ['{{ constructor.constructor("return 1")() }}', 'constructor.constructor("return 1")()'],
    ['{{ `id` }}', '`id`'],
    ['{{ $(id) }}', '$(id)'],
  ])('rejects %s as not a value reference', (template, source) => {
    const err = catchTemplateError(() => parseTemplate(`echo ${template}`));
    expect(err.message).toBe(
      `{{ ${source} }} is not a value reference: templates hold a path such as options.name, never code`,
    );
    expect(err.offset).toBe(5);
  });

  it('rejects an empty reference', () => {
    expect(() => parseTemplate('{{ }}')).toThrow(/not a value reference/);
    expect(() => parseTemplate('{{}}')).toThrow(TemplateError);
  });
});

function catchTemplateError(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error('expected a TemplateError');
}

describe('checkPath', () => {
  const check = (src: string, s: TemplateScope = scope()) => checkPath(src.split('.'), s);

  describe('options', () => {
    it('accepts a declared option', () => {
      expect(check('options.service')).toBeNull();
    });
    it('names an undeclared option', () => {
      expect(check('options.nope')).toBe('options.nope: no option named "nope"');
    });
    it.each(['options', 'options.service.x'])('requires exactly options.NAME (%s)', (src) => {
      expect(check(src)).toBe(`${src}: expected options.NAME`);
    });
  });

  describe('node', () => {
    it.each(['node.name', 'node.hostname', 'node.port', 'node.user', 'node.attributes.region'])(
      'accepts %s in a step on target nodes',
      (src) => {
        expect(check(src)).toBeNull();
      },
    );
    it('rejects node.* where no node is in scope', () => {
      expect(check('node.name', scope({ node: false }))).toBe(
        'node.name: node.* is only available in steps that run on target nodes',
      );
    });
    it.each(['node', 'node.password', 'node.attributes', 'node.attributes.a.b', 'node.name.x'])(
      'rejects the malformed path %s',
      (src) => {
        expect(check(src)).toBe(
          `${src}: expected node.name, node.hostname, node.port, node.user or node.attributes.NAME`,
        );
      },
    );
  });

  describe('steps', () => {
    it('accepts a capture of an earlier step', () => {
      expect(check('steps.fetch.captures.version')).toBeNull();
    });
    it('rejects a step that is not earlier', () => {
      expect(check('steps.later.captures.version')).toBe(
        'steps.later.captures.version: no earlier step named "later"',
      );
    });
    it('rejects a capture the step does not declare', () => {
      expect(check('steps.fetch.captures.nope')).toBe(
        'steps.fetch.captures.nope: step "fetch" captures no "nope"',
      );
    });
    it.each(['steps.fetch', 'steps.fetch.output.version', 'steps.fetch.captures.version.x'])(
      'requires steps.STEP.captures.NAME (%s)',
      (src) => {
        expect(check(src)).toBe(`${src}: expected steps.STEP.captures.NAME or steps.STEP.choice`);
      },
    );
    it('reads the choice of an earlier approval step with choices, and only that', () => {
      const s = scope({ choices: new Set(['gate']) });
      expect(check('steps.gate.choice', s)).toBeNull();
      expect(check('steps.fetch.choice', s)).toBe(
        'steps.fetch.choice: no earlier approval step named "fetch" with choices',
      );
    });
  });

  describe('alert', () => {
    it.each(['alert.labels.instance', 'alert.annotations.summary'])(
      'accepts %s in trigger scope',
      (src) => {
        expect(check(src, scope({ alert: true }))).toBeNull();
      },
    );
    it('rejects alert.* outside triggers', () => {
      expect(check('alert.labels.instance')).toBe(
        'alert.labels.instance: alert.* is only available in triggers',
      );
    });
    it.each(['alert.labels', 'alert.status.x', 'alert.labels.a.b'])(
      'rejects the malformed path %s',
      (src) => {
        expect(check(src, scope({ alert: true }))).toBe(
          `${src}: expected alert.labels.NAME or alert.annotations.NAME`,
        );
      },
    );
  });

  describe('incident', () => {
    it.each(['incident.id', 'incident.title', 'incident.severity'])('accepts %s', (src) => {
      expect(check(src)).toBeNull();
    });
    it.each(['incident', 'incident.owner', 'incident.id.x'])('rejects %s', (src) => {
      expect(check(src)).toBe(`${src}: expected incident.id, incident.title or incident.severity`);
    });
  });

  describe('execution', () => {
    it.each(['execution.id', 'execution.actor'])('accepts %s', (src) => {
      expect(check(src)).toBeNull();
    });
    it.each(['execution', 'execution.token', 'execution.id.x'])('rejects %s', (src) => {
      expect(check(src)).toBe(`${src}: expected execution.id or execution.actor`);
    });
  });

  it.each(['process.env', 'env.HOME', 'constructor.constructor', '__proto__.x'])(
    'rejects the unknown root of %s',
    (src) => {
      const root = src.split('.')[0];
      expect(check(src)).toBe(
        `${src}: unknown root "${root}" (expected options, node, steps, alert, incident or execution)`,
      );
    },
  );
});

describe('shellQuote', () => {
  it.each([
    'nginx',
    'web-1.example.com',
    '/var/log/app.log',
    'a_b',
    'user@host',
    '80%',
    '+1',
    'a:b,c',
    '-rf',
  ])('leaves the safe word %s unquoted', (word) => {
    expect(shellQuote(word)).toBe(word);
  });

  it('quotes the empty string as an empty word', () => {
    expect(shellQuote('')).toBe("''");
  });

  it.each([
    ['a b', "'a b'"],
    // `=` is quoted: as a command's first word, FOO=bar would be an assignment.
    ['k=v', "'k=v'"],
    ['x; rm -rf / #', "'x; rm -rf / #'"],
    ['$(id)', "'$(id)'"],
    ['`id`', "'`id`'"],
    ['a && b', "'a && b'"],
    ['a | b', "'a | b'"],
    ['*', "'*'"],
    ['~', "'~'"],
    ['$HOME', "'$HOME'"],
    ['a\nb', "'a\nb'"],
    ['say "hi"', `'say "hi"'`],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ["''", "''\\'''\\'''"],
    ['\\', "'\\'"],
    ['café', "'café'"],
  ])('single-quotes %j', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});

describe('renderShell', () => {
  const render = (v: unknown) => renderShell(PRINT, { options: { v } });

  it('renders literal text unchanged', () => {
    expect(renderShell('uptime', {})).toEqual({ text: 'uptime', display: 'uptime' });
  });

  it('renders node values, numbers included', () => {
    const r = renderShell(
      'ssh -p {{ node.port }} {{ node.user }}@{{ node.hostname }} {{ node.attributes.region }}',
      {
        node,
      },
    );
    expect(r.text).toBe('ssh -p 2222 deploy@web-1.example.internal eu-west-1');
    expect(r.display).toBe(r.text);
  });

  it('renders the option value x; rm -rf / # as one quoted word (text only, not executed)', () => {
    expect(render('x; rm -rf / #').text).toBe("printf '[%s]\\n' 'x; rm -rf / #'");
  });

  describe('injection: every value is exactly one shell word, proven with /bin/sh', () => {
    it.each([
      ['semicolon and comment', 'x; echo PWNED #'],
      ['command substitution', '$(echo PWNED)'],
      ['backticks', '`echo PWNED`'],
      ['and-list', 'a && echo PWNED'],
      ['or-list', 'a || echo PWNED'],
      ['pipe', 'a | echo PWNED'],
      ['background', 'a & echo PWNED'],
      ['newline', 'a\necho PWNED'],
      ['carriage return and newline', 'a\r\necho PWNED\r\n'],
      ['glob star', '*'],
      ['glob question mark and class', '?[a-z]*'],
      ['single quotes', "it's 'quoted'"],
      ['a quote that tries to close the word', "'; echo PWNED; '"],
      ['double quotes', 'say "hi" and "$(echo PWNED)"'],
      ['variable expansion', '$HOME ${PATH}'],
      ['tilde', '~root'],
      ['redirection', 'x > /dev/null < /etc/passwd'],
      ['subshell and braces', '(echo PWNED) { echo PWNED; }'],
      ['backslashes', 'a\\ b\\\\c\\'],
      ['leading dash', '-n'],
      ['spaces and tabs', '  two \t words  '],
      ['empty string', ''],
      ['unicode', 'naïve — ünïcødé'],
    ])('%s', (_label, value) => {
      const rendered = render(value);
      expect(sh(rendered.text)).toBe(`[${value}]\n`);
    });
  });

  it('renders null and missing values as one empty word', () => {
    expect(render(null).text).toBe("printf '[%s]\\n' ''");
    expect(renderShell(PRINT, { options: {} }).text).toBe("printf '[%s]\\n' ''");
    expect(sh(render(null).text)).toBe('[]\n');
  });

  it('renders numbers and booleans as words', () => {
    expect(render(42).text).toBe("printf '[%s]\\n' 42");
    expect(render(true).text).toBe("printf '[%s]\\n' true");
  });

  it('renders an object as one JSON word', () => {
    const r = render({ a: 'b c' });
    expect(sh(r.text)).toBe('[{"a":"b c"}]\n');
  });

  it('renders a list as one quoted word per item', () => {
    const items = ['a b', '$(echo PWNED)', "it's", '*', ''];
    const r = render(items);
    expect(r.text).toBe(`printf '[%s]\\n' 'a b' '$(echo PWNED)' 'it'\\''s' '*' ''`);
    expect(sh(r.text)).toBe(items.map((i) => `[${i}]\n`).join(''));
  });

  it('renders an empty list as no words at all', () => {
    expect(render([]).text).toBe("printf '[%s]\\n' ");
  });

  it('does not resolve inherited properties (__proto__, constructor)', () => {
    expect(
      renderShell('{{ options.constructor }} {{ options.__proto__ }}', { options: {} }).text,
    ).toBe("'' ''");
  });

  describe('secure options', () => {
    const values: TemplateValues = {
      options: { token: 's3cr3t value', user: 'alice' },
      secureOptions: new Set(['token']),
    };

    it('puts the real value in text and **** in display', () => {
      const r = renderShell('login {{ options.user }} {{ options.token }}', values);
      expect(r.text).toBe("login alice 's3cr3t value'");
      expect(r.display).toBe(`login alice ${MASK}`);
      expect(r.display).not.toContain('s3cr3t');
    });

    it("masks only options: another root with a secure option's name is shown", () => {
      const r = renderShell('{{ execution.actor }}', {
        ...values,
        secureOptions: new Set(['actor']),
        execution: { id: 'e1', actor: 'bob' },
      });
      expect(r.display).toBe('bob');
    });
  });

  describe('placeholders (plan mode)', () => {
    it('renders unknown step captures, alert and incident values as <path>', () => {
      const r = renderShell(
        'deploy {{ steps.fetch.captures.version }} {{ alert.labels.instance }} {{ incident.id }}',
        { placeholders: true },
      );
      expect(r.text).toBe(
        'deploy <steps.fetch.captures.version> <alert.labels.instance> <incident.id>',
      );
      expect(r.display).toBe(r.text);
    });

    it('renders known captures as quoted words even in plan mode', () => {
      const r = renderShell('deploy {{ steps.fetch.captures.version }}', {
        placeholders: true,
        steps: { fetch: { captures: { version: '1.2 beta' } } },
      });
      expect(r.text).toBe("deploy '1.2 beta'");
    });

    it('does not use placeholders for options or node values', () => {
      expect(renderShell('{{ options.x }} {{ node.name }}', { placeholders: true }).text).toBe(
        "'' ''",
      );
    });

    it('renders unknown captures as empty words outside plan mode', () => {
      expect(renderShell('x {{ steps.fetch.captures.version }}', {}).text).toBe("x ''");
    });
  });

  it('propagates template syntax errors', () => {
    expect(() => renderShell('echo {{ a + b }}', {})).toThrow(TemplateError);
  });
});

describe('renderText', () => {
  it('inserts values as they are by default', () => {
    const r = renderText('Restarting {{ options.s }} on {{ node.name }}', {
      options: { s: 'a b; c' },
      node,
    });
    expect(r).toEqual({
      text: 'Restarting a b; c on web-1',
      display: 'Restarting a b; c on web-1',
    });
  });

  it('applies the encoder to each value, not to literals', () => {
    const r = renderText('q={{ options.q }}&x=1', { options: { q: 'a&b' } }, encodeURIComponent);
    expect(r.text).toBe('q=a%26b&x=1');
  });

  it('joins a list with commas', () => {
    expect(renderText('{{ options.l }}', { options: { l: ['a', 'b'] } }).text).toBe('a,b');
  });

  it('masks secure values in display', () => {
    const r = renderText('Bearer {{ options.token }}', {
      options: { token: 'abc' },
      secureOptions: new Set(['token']),
    });
    expect(r).toEqual({ text: 'Bearer abc', display: `Bearer ${MASK}` });
  });

  it('renders placeholders in plan mode', () => {
    expect(renderText('v={{ steps.a.captures.b }}', { placeholders: true }).text).toBe(
      'v=<steps.a.captures.b>',
    );
  });
});

describe('renderUrl', () => {
  const values = (options: Record<string, unknown>, secure: string[] = []): TemplateValues => ({
    options,
    secureOptions: new Set(secure),
  });

  it('uses a value at the start as the base URL, without trailing slashes', () => {
    const r = renderUrl('{{ options.base }}/api/health', values({ base: 'https://svc.example/' }));
    expect(r.text).toBe('https://svc.example/api/health');
  });

  it('accepts http and https bases with paths and ports', () => {
    expect(renderUrl('{{ options.base }}', values({ base: 'http://10.0.0.1:8080/x' })).text).toBe(
      'http://10.0.0.1:8080/x',
    );
  });

  it.each([
    'ftp://files.example',
    'javascript:alert(1)',
    'file:///etc/passwd',
    '//svc.example',
    'svc.example',
    'https://svc.example/a b',
    'https://',
    '',
  ])('rejects the base %j that is not an http(s) URL', (base) => {
    const err = catchTemplateError(() => renderUrl('{{ options.base }}/x', values({ base })));
    expect(err.message).toBe('options.base must be an http(s) URL to start a URL');
    expect(err.offset).toBe(0);
  });

  it('percent-encodes every other value so it cannot add segments, queries or fragments', () => {
    const r = renderUrl(
      'https://svc.example/api/{{ options.p }}?q={{ options.q }}',
      values({ p: 'a/b?c', q: 'x&admin=true#frag' }),
    );
    expect(r.text).toBe('https://svc.example/api/a%2Fb%3Fc?q=x%26admin%3Dtrue%23frag');
    const url = new URL(r.text);
    expect(url.pathname).toBe('/api/a%2Fb%3Fc');
    expect([...url.searchParams.keys()]).toEqual(['q']);
    expect(url.searchParams.get('q')).toBe('x&admin=true#frag');
    expect(url.hash).toBe('');
  });

  it('encodes a full URL that does not start the template', () => {
    expect(
      renderUrl('https://a.example/?next={{ options.u }}', values({ u: 'https://evil.example/' }))
        .text,
    ).toBe('https://a.example/?next=https%3A%2F%2Fevil.example%2F');
  });

  it('encodes / and @ so a value cannot end the host or add credentials', () => {
    const r = renderUrl('https://{{ options.h }}.example/x', values({ h: 'evil.com/@' }));
    expect(r.text).toBe('https://evil.com%2F%40.example/x');
  });

  it('masks secure values in display, including the base', () => {
    const r = renderUrl(
      '{{ options.base }}/x?key={{ options.key }}',
      values({ base: 'https://user:pw@svc.example', key: 'k/1' }, ['base', 'key']),
    );
    expect(r.text).toBe('https://user:pw@svc.example/x?key=k%2F1');
    expect(r.display).toBe(`${MASK}/x?key=${MASK}`);
  });

  it('renders placeholders in plan mode, also at the start', () => {
    const r = renderUrl('{{ steps.a.captures.url }}/x/{{ steps.a.captures.id }}', {
      placeholders: true,
    });
    expect(r.text).toBe('<steps.a.captures.url>/x/<steps.a.captures.id>');
  });
});

describe('renderStructured', () => {
  const values: TemplateValues = {
    options: { n: 5, on: true, l: ['a', 'b'], s: 'x y', token: 'tok' },
    secureOptions: new Set(['token']),
  };

  it('keeps the type of a string that is exactly one reference', () => {
    expect(renderStructured('{{ options.n }}', values)).toEqual({ value: 5, display: 5 });
    expect(renderStructured('{{ options.on }}', values).value).toBe(true);
    expect(renderStructured('{{ options.l }}', values).value).toEqual(['a', 'b']);
  });

  it('renders a string with other text as text', () => {
    expect(renderStructured('n={{ options.n }}', values)).toEqual({ value: 'n=5', display: 'n=5' });
    expect(renderStructured(' {{ options.n }}', values).value).toBe(' 5');
  });

  it('recurses into arrays and objects and leaves other values alone', () => {
    const r = renderStructured(
      { count: '{{ options.n }}', nested: { list: ['{{ options.s }}', 7, null] }, flag: false },
      values,
    );
    expect(r.value).toEqual({ count: 5, nested: { list: ['x y', 7, null] }, flag: false });
    expect(r.display).toEqual(r.value);
  });

  it('masks secure values in display only', () => {
    const r = renderStructured(
      { t: '{{ options.token }}', h: 'Bearer {{ options.token }}' },
      values,
    );
    expect(r.value).toEqual({ t: 'tok', h: 'Bearer tok' });
    expect(r.display).toEqual({ t: MASK, h: `Bearer ${MASK}` });
  });

  it('renders a placeholder for an unknown capture in plan mode', () => {
    expect(renderStructured('{{ steps.a.captures.b }}', { placeholders: true })).toEqual({
      value: '<steps.a.captures.b>',
      display: '<steps.a.captures.b>',
    });
  });

  it('renders a missing single reference as the empty string', () => {
    expect(renderStructured('{{ options.none }}', values).value).toBe('');
  });
});

describe('templateRefs', () => {
  it('collects references from strings, arrays and objects', () => {
    expect(
      templateRefs({
        a: '{{ options.x }} and {{ node.name }}',
        b: ['{{ steps.s.captures.c }}', 3, null],
        c: { d: 'plain' },
      }).map((r) => r.source),
    ).toEqual(['options.x', 'node.name', 'steps.s.captures.c']);
  });

  it('returns nothing for non-template values', () => {
    expect(templateRefs(42)).toEqual([]);
    expect(templateRefs(null)).toEqual([]);
    expect(templateRefs('no refs')).toEqual([]);
  });
});

describe('unsafeTemplateRefs: quote tracking', () => {
  const refs = (command: string) => unsafeTemplateRefs(command).map((b) => b.ref);

  it.each([
    ['echo {{ options.v }}', []],
    ["echo '{{ options.v }}'", ['{{ options.v }}']],
    ['echo "{{ options.v }}"', ['{{ options.v }}']],
    ['echo "prefix {{ options.v }} suffix"', ['{{ options.v }}']],
    ['grep \'x\' {{ options.v }} "y"', []],
    [
      "echo 'a' {{ options.a }} \"{{ options.b }}\" '{{ options.c }}'",
      ['{{ options.b }}', '{{ options.c }}'],
    ],
    // A double quote inside single quotes does not open a quote, and vice versa.
    ["echo '\"' {{ options.v }}", []],
    ['echo "\'" {{ options.v }}', []],
    // Escaped quotes outside quotes are literal characters.
    ['echo \\"{{ options.v }}\\"', []],
    ["echo \\'{{ options.v }}", []],
    // An escaped double quote inside double quotes does not close them.
    ['echo "a \\" {{ options.v }}"', ['{{ options.v }}']],
    // In single quotes a backslash is literal, so the quote closes.
    ["echo 'a\\' {{ options.v }}", []],
    ['echo "unclosed {{ options.v', []],
  ])('%s → %j', (command, expected) => {
    expect(refs(command)).toEqual(expected);
  });

  it('reports a reference escaped with a backslash, which would break its quoting', () => {
    const command = "printf '[%s]\\n' \\{{ options.v }}";
    expect(refs(command)).toEqual(['\\{{ options.v }}']);
    // Why: the backslash escapes the opening quote of the rendered word.
    const rendered = renderShell(command, { options: { v: 'x; echo PWNED #' } });
    expect(sh(rendered.text)).toContain('PWNED');
  });

  it('reports a backslash-escaped reference inside double quotes too', () => {
    expect(refs('echo "\\{{ options.v }}"')).toEqual(['\\{{ options.v }}']);
  });
});

describe('unsafeTemplateRefs', () => {
  it.each([
    ['echo "{{ options.v }}"', 'quotes', '{{ options.v }}'],
    ["echo '{{ options.v }}'", 'quotes', '{{ options.v }}'],
    ['echo \\{{ options.v }}', 'escape', '\\{{ options.v }}'],
    ['echo ${{ options.v }}', 'dollar', '${{ options.v }}'],
    ['restart x # {{ options.v }}', 'comment', '{{ options.v }}'],
    ['# note {{ options.v }}\necho ok', 'comment', '{{ options.v }}'],
    ['cat <<EOF\nhello {{ options.v }}\nEOF', 'heredoc', '{{ options.v }}'],
    ["cat <<-'END'\n\t{{ options.v }}\n\tEND", 'heredoc', '{{ options.v }}'],
  ])('refuses %j (%s)', (command, context, ref) => {
    expect(unsafeTemplateRefs(command)).toEqual([{ ref, context }]);
  });

  it.each([
    'echo {{ options.v }}',
    'grep -c x#y {{ options.v }}',
    'echo a#b {{ options.v }}',
    'cat <<EOF\nliteral\nEOF\necho {{ options.v }}',
    'echo "#" {{ options.v }}',
    'echo $(date) {{ options.v }}',
    'test 1 -lt 2 && echo {{ options.v }}',
  ])('accepts %j', (command) => {
    expect(unsafeTemplateRefs(command)).toEqual([]);
  });

  it('the comment case is a real injection without the check', () => {
    const rendered = renderShell('echo safe # {{ options.v }}', {
      options: { v: 'x\necho PWNED #' },
    }).text;
    expect(execFileSync('/bin/sh', ['-c', rendered], { encoding: 'utf8' })).toContain('PWNED');
  });
});
