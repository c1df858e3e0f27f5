import { execFileSync } from 'node:child_process';
import { convertShell } from './rundeck/shell.js';
import { ShellWriter, slugify } from './shell-refs.js';
import { translateShell } from './stackstorm/jinja.js';
import { shellQuote } from '../runbooks/template.js';

describe('slugify', () => {
  it.each([
    ['Restart Web Servers', {}, 'restart-web-servers'],
    ['linux.rm', {}, 'linux-rm'],
    ['  --Café au lait!--  ', {}, 'cafe-au-lait'],
    ['reqOpt1', { sep: '_', camel: true }, 'req_opt1'],
    ['target-host', { sep: '_' }, 'target_host'],
    ['__private__', { sep: '_' }, 'private'],
    ['deployAPIServer', { camel: true }, 'deploy-apiserver'],
    ['a'.repeat(39) + ' tail', { max: 40 }, 'a'.repeat(39)],
    ['日本', {}, ''],
  ] as const)('%j %j → %j', (text, o, slug) => expect(slugify(text, o)).toBe(slug));
});

/** The words a POSIX shell makes of `echo …` (values substituted as Firebreak does: quoted). */
function words(text: string, values: Record<string, string>): string[] {
  const command = text
    .replace(/^echo /, "printf '%s\\0' ")
    .replace(/\{\{ options\.([a-z0-9_]+) \}\}/g, (_, n: string) => shellQuote(values[n]));
  return execFileSync('sh', ['-c', command], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('ShellWriter: a reference inside quotes is moved out of them', () => {
  const write = (parts: Array<string | { word: string }>) => {
    const w = new ShellWriter();
    const flat = parts.flatMap((p): Array<string | { word: string }> =>
      typeof p === 'string' ? [...p] : [p],
    );
    for (let i = 0; i < flat.length; i++) {
      const p = flat[i];
      if (typeof p === 'string') w.char(p);
      else {
        const next = flat[i + 1];
        i += w.word(p.word, typeof next === 'string' ? next : undefined);
      }
    }
    return w;
  };
  const v = { word: '{{ options.v }}' };

  it.each([
    [['echo ', v], 'echo {{ options.v }}', false],
    [['echo "', v, '"'], 'echo {{ options.v }}', true],
    [["echo '", v, "'"], 'echo {{ options.v }}', true],
    [['echo "a ', v, ' b"'], 'echo "a "{{ options.v }}" b"', true],
    [['echo "', v, ' b"'], 'echo {{ options.v }}" b"', true],
    [['echo "a ', v, '"'], 'echo "a "{{ options.v }}', true],
    [['echo "a ', v, v, '"'], 'echo "a "{{ options.v }}{{ options.v }}', true],
  ] as const)('%j → %s', (parts, text, unquoted) => {
    const w = write([...parts]);
    expect(w.text).toBe(text);
    expect(w.unquoted).toBe(unquoted);
    expect(w.quote).toBeNull();
  });

  it('the shell sees the words the source meant, and a hostile value stays one word', () => {
    const hostile = `$(touch /tmp/firebreak-pwned) "; rm -rf / #' \`id\``;
    expect(words(write(['echo "deploying ', v, ' now" x']).text, { v: '1.2' })).toEqual([
      'deploying 1.2 now',
      'x',
    ]);
    expect(words(write(['echo "a ', v, ' b"']).text, { v: hostile })).toEqual([`a ${hostile} b`]);
  });

  it('the Rundeck and StackStorm imports quote the same command the same way', () => {
    const rundeck = (cmd: string) =>
      convertShell(cmd, (_c, name) => ({ ref: `options.${name}` })).text;
    const stackstorm = (cmd: string) => translateShell(cmd, (p) => ({ option: p })).text;
    for (const [rd, st, out] of [
      ['echo "${option.msg}"', 'echo "{{ msg }}"', 'echo {{ options.msg }}'],
      ['echo "${option.msg} now"', 'echo "{{ msg }} now"', 'echo {{ options.msg }}" now"'],
      ["echo 'at ${option.msg}'", "echo 'at {{ msg }}'", "echo 'at '{{ options.msg }}"],
      ['echo "a ${option.b} c" d', 'echo "a {{ b }} c" d', 'echo "a "{{ options.b }}" c" d'],
    ]) {
      expect(rundeck(rd)).toBe(out);
      expect(stackstorm(st)).toBe(out);
    }
  });
});
