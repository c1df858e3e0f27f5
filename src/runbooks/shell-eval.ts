import { parseTemplate } from './template.js';
import type { OptionDefinition } from './runbook.schema.js';

/**
 * Commands that evaluate an argument as code: `sh -c CODE`, `bash -c`, `eval …`, `su -c CODE`,
 * `ssh HOST CMD…`, `xargs CMD…`, `env … sh -c`, `watch CMD…`, `python -c`, `perl -e`, … Firebreak
 * quotes every templated value as one word, but such a command then parses that word as code,
 * so a value there is a shell injection again. The linter refuses a template in such a position
 * unless its value cannot hold shell syntax (`templateRulesOutShell`).
 *
 * This reads a command as the shell would, well enough for the positions that matter: simple
 * commands split on `; & | ( ) \` $(` and newlines outside quotes, words with their quotes, and
 * the usual wrappers (`sudo`, `doas`, `env`, `nohup`, `exec`, `command`, `time`, `nice`,
 * `timeout`, `setsid`, `stdbuf`) looked through to the command they run.
 */
export interface EvaluatedRef {
  /** The template as written, e.g. `{{ options.msg }}`. */
  ref: string;
  path: string[];
  /** The evaluating command, e.g. `sh -c`, `eval`, `ssh HOST`. */
  command: string;
}

interface Word {
  text: string;
  refs: Array<{ ref: string; path: string[] }>;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'yash', 'fish']);
/** Interpreters and the flag whose argument is code. */
const CODE_FLAG: Record<string, string> = {
  python: 'c',
  python2: 'c',
  python3: 'c',
  perl: 'e',
  ruby: 'e',
  node: 'e',
  nodejs: 'e',
  php: 'r',
  awk: '',
};
/** Every word after these is run (xargs, watch: through a shell; eval: as code). */
const RUNS_THE_REST = new Set(['eval', 'xargs', 'watch', 'parallel']);
const SSH_ARG_FLAGS = 'BbcDEeFIiJLlmOopQRSWw';
const SUDO_ARG_FLAGS = 'CDghprtTuU';

const basename = (w: string) => w.replace(/^.*\//, '');
const isAssignment = (w: Word) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w.text) && !w.refs.length;

/** Splits a command into simple commands of words (quotes kept in the word text). */
function simpleCommands(command: string): Word[][] {
  const out: Word[][] = [];
  let words: Word[] = [];
  let cur: Word | null = null;
  let quote: '"' | "'" | null = null;
  const endWord = () => {
    if (cur) words.push(cur);
    cur = null;
  };
  const endCommand = () => {
    endWord();
    if (words.length) out.push(words);
    words = [];
  };
  for (let i = 0; i < command.length; i++) {
    const ch = command[i];
    if (!quote && command.startsWith('{{', i)) {
      const close = command.indexOf('}}', i);
      if (close === -1) break;
      const ref = command.slice(i, close + 2);
      const seg = parseTemplateSafe(ref);
      cur ??= { text: '', refs: [] };
      cur.text += ref;
      if (seg) cur.refs.push({ ref, path: seg });
      i = close + 1;
      continue;
    }
    if (quote) {
      if (ch === quote) quote = null;
      else if (quote === '"' && ch === '\\') i++;
      else if (quote === '"' && (command.startsWith('$(', i) || ch === '`')) {
        // A command substitution inside double quotes is its own command.
        endCommand();
      }
      if (cur) cur.text += ch;
      continue;
    }
    if (ch === '\\') {
      cur ??= { text: '', refs: [] };
      cur.text += command.slice(i, i + 2);
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      cur ??= { text: '', refs: [] };
      cur.text += ch;
      continue;
    }
    if (ch === '#' && !cur) {
      const eol = command.indexOf('\n', i);
      i = eol === -1 ? command.length : eol - 1;
      continue;
    }
    if (';&|()`\n'.includes(ch) || command.startsWith('$(', i)) {
      endCommand();
      if (ch === '$') i++;
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      endWord();
      continue;
    }
    cur ??= { text: '', refs: [] };
    cur.text += ch;
  }
  endCommand();
  // Redirections (`>file`, `2> /dev/null`, `<<EOF`) are not arguments.
  return out.map((ws) => {
    const kept: Word[] = [];
    for (let i = 0; i < ws.length; i++) {
      const m = /^\d*(<<?-?|>>?|<>|>&|<&)(.*)$/.exec(ws[i].text);
      if (m && !ws[i].refs.length) {
        if (m[2] === '') i++;
        continue;
      }
      kept.push(ws[i]);
    }
    return kept;
  });
}

function parseTemplateSafe(ref: string): string[] | null {
  try {
    const seg = parseTemplate(ref)[0];
    return seg && 'path' in seg ? seg.path : null;
  } catch {
    return null;
  }
}

/** Unquoted literal text of a word, for recognising command names and flags. */
const literal = (w: Word) => w.text.replace(/['"\\]/g, '');

/** Skips a wrapper's own options (those in `argFlags` take the next word); returns the index after. */
function skipOptions(words: Word[], i: number, argFlags: string): number {
  while (i < words.length && literal(words[i]).startsWith('-') && !words[i].refs.length) {
    const w = literal(words[i]);
    if (w === '--') return i + 1;
    const last = w.length === 2 ? w[1] : '';
    i += last && argFlags.includes(last) ? 2 : 1;
  }
  return i;
}

/** The words each command evaluates as code, and the command's description. */
function evaluatedWords(words: Word[]): Array<{ word: Word; command: string }> {
  const out: Array<{ word: Word; command: string }> = [];
  let i = 0;
  while (i < words.length) {
    while (i < words.length && isAssignment(words[i])) i++;
    if (i >= words.length) break;
    const name = basename(literal(words[i]));
    if (words[i].refs.length) return out;
    if (name === 'sudo' || name === 'doas') {
      i = skipOptions(words, i + 1, SUDO_ARG_FLAGS);
      continue;
    }
    if (['nohup', 'exec', 'command', 'builtin', 'time', 'setsid'].includes(name)) {
      i = skipOptions(words, i + 1, '');
      continue;
    }
    if (name === 'nice' || name === 'stdbuf' || name === 'ionice') {
      i = skipOptions(words, i + 1, 'nioeSc');
      continue;
    }
    if (name === 'timeout') {
      i = skipOptions(words, i + 1, 'sk') + 1;
      continue;
    }
    if (name === 'env') {
      i++;
      // Until the command: options, NAME=value, and anything templated (which env may take
      // as the command itself); `-S STRING` splits its argument into words.
      while (i < words.length) {
        const w = literal(words[i]);
        if (words[i].refs.length) out.push({ word: words[i], command: 'env' });
        else if (w === '-S' || w === '--split-string') {
          if (words[i + 1]) out.push({ word: words[i + 1], command: 'env -S' });
          i++;
        } else if (w === '-u' || w === '-C') i++;
        else if (!w.startsWith('-') && !isAssignment(words[i])) break;
        i++;
      }
      continue;
    }
    const rest = words.slice(i + 1);
    const base = name.replace(/[0-9.]+$/, '') || name;
    if (SHELLS.has(name) || SHELLS.has(base)) {
      for (let j = 0; j < rest.length; j++) {
        const w = literal(rest[j]);
        if (!/^[-+]/.test(w) || rest[j].refs.length) break;
        if (w === '-o' || w === '+o') j++;
        else if (/^-[A-Za-z]*c[A-Za-z]*$/.test(w)) {
          if (rest[j + 1]) out.push({ word: rest[j + 1], command: `${name} -c` });
          break;
        }
      }
      return out;
    }
    const flag = CODE_FLAG[name] ?? CODE_FLAG[base];
    if (flag !== undefined) {
      if (flag === '') {
        // awk: the first non-option word is the program.
        const j = skipOptions(rest, 0, 'fvF');
        if (rest[j]) out.push({ word: rest[j], command: name });
      }
      for (let j = 0; j < rest.length; j++) {
        if (flag && literal(rest[j]) === `-${flag}` && rest[j + 1])
          out.push({ word: rest[j + 1], command: `${name} -${flag}` });
      }
      return out;
    }
    if (RUNS_THE_REST.has(name)) {
      for (const w of rest) out.push({ word: w, command: name });
      return out;
    }
    if (name === 'su') {
      for (let j = 0; j < rest.length; j++) {
        const w = literal(rest[j]);
        if ((w === '-c' || w === '--command' || w === '--session-command') && rest[j + 1])
          out.push({ word: rest[j + 1], command: 'su -c' });
        else if (w.startsWith('--command=')) out.push({ word: rest[j], command: 'su -c' });
      }
      return out;
    }
    if (name === 'ssh') {
      const host = skipOptions(rest, 0, SSH_ARG_FLAGS);
      for (const w of rest.slice(host + 1)) out.push({ word: w, command: 'ssh HOST' });
      return out;
    }
    return out;
  }
  return out;
}

/** Templates that a command in `command` would evaluate as code. */
export function evaluatedTemplateRefs(command: string): EvaluatedRef[] {
  const out: EvaluatedRef[] = [];
  for (const words of simpleCommands(command)) {
    for (const { word, command: c } of evaluatedWords(words)) {
      for (const r of word.refs) out.push({ ref: r.ref, path: r.path, command: c });
    }
  }
  return out;
}

/** Characters that are never shell syntax (the same set shellQuote leaves unquoted). */
const SAFE_CHAR = /^[A-Za-z0-9_@%+:,./-]$/;

/**
 * Whether a regular expression (matched whole) can only match words of shell-safe characters:
 * it is read as a sequence of literal safe characters, `\d`, `\w`, escaped safe characters and
 * bracket classes of those (ranges between letters or digits), with groups, `|` and quantifiers.
 * Anything else (`.`, `\S`, negated classes, unknown escapes) counts as possibly shell syntax.
 */
export function patternRulesOutShell(pattern: string): boolean {
  let i = 0;
  const escapeOk = (c: string | undefined) =>
    c !== undefined && (c === 'd' || c === 'w' || (SAFE_CHAR.test(c) && !/[A-Za-z0-9]/.test(c)));
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      if (!escapeOk(pattern[i + 1])) return false;
      i += 2;
    } else if (c === '[') {
      if (pattern[i + 1] === '^') return false;
      let j = i + 1;
      let prev: string | null = null;
      for (; j < pattern.length && pattern[j] !== ']'; j++) {
        const d = pattern[j];
        if (d === '\\') {
          if (!escapeOk(pattern[j + 1])) return false;
          prev = null;
          j++;
        } else if (d === '-' && prev !== null && pattern[j + 1] && pattern[j + 1] !== ']') {
          const to = pattern[j + 1];
          const alnum = (x: string) => /[0-9]/.test(x) || /[a-z]/.test(x) || /[A-Z]/.test(x);
          const sameClass =
            (/[0-9]/.test(prev) && /[0-9]/.test(to)) ||
            (/[a-z]/.test(prev) && /[a-z]/.test(to)) ||
            (/[A-Z]/.test(prev) && /[A-Z]/.test(to));
          if (!alnum(prev) || !sameClass) return false;
          prev = null;
          j++;
        } else if (SAFE_CHAR.test(d)) prev = d;
        else return false;
      }
      if (j >= pattern.length) return false;
      i = j + 1;
    } else if (c === '(') {
      i += pattern.startsWith('(?:', i) ? 3 : 1;
    } else if (c === ')' || c === '|' || c === '*' || c === '+' || c === '?') {
      i++;
    } else if ((c === '^' && i === 0) || (c === '$' && i === pattern.length - 1)) {
      i++;
    } else if (c === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      if (!m) return false;
      i += m[0].length;
    } else if (SAFE_CHAR.test(c) && c !== '.') {
      i++;
    } else return false;
  }
  return true;
}

/**
 * Whether a template's value can never hold shell syntax: an option whose type cannot (integer,
 * number, boolean, or an enum, whose values are the runbook's own text) or whose `pattern` rules
 * it out; the node's name and port; the execution's id. Node attributes, captures of output,
 * alert labels and options without such a pattern can hold anything.
 */
export function templateRulesOutShell(
  path: readonly string[],
  options: readonly OptionDefinition[],
): boolean {
  const [root, a] = path;
  if (root === 'node') return path.length === 2 && (a === 'name' || a === 'port');
  if (root === 'execution') return a === 'id';
  if (root !== 'options') return false;
  const def = options.find((o) => o.name === a);
  if (!def) return false;
  if (['integer', 'number', 'boolean', 'enum'].includes(def.type)) return true;
  return 'pattern' in def && typeof def.pattern === 'string' && patternRulesOutShell(def.pattern);
}
