import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completionScript } from './completion.js';
import { flagsOf } from './dispatch.js';
import { COMMANDS, USAGE } from './firebreak-cli.js';

/**
 * Completion and help read the command table the dispatcher runs, so neither can drift from the
 * commands: the bash script is sourced in a real bash and asked for every word it should offer.
 */
describe('completion and help come from the command table', () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-completion-'));
    script = join(dir, 'firebreak.bash');
    writeFileSync(script, completionScript('bash', COMMANDS));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** What `firebreak WORDS…<TAB>` offers (the last word is the one being completed). */
  const complete = (...words: string[]) =>
    execFileSync(
      'bash',
      [
        '-c',
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _firebreak; printf "%s\\n" "${COMPREPLY[@]}"',
        'complete',
        script,
        'firebreak',
        ...words,
      ],
      // No `firebreak` on PATH: runbook names (asked of the server) complete to nothing here.
      { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } },
    )
      .split('\n')
      .filter(Boolean);

  const names = Object.keys(COMMANDS);

  it('offers every command of the table, and nothing else', () => {
    expect(names).toEqual(expect.arrayContaining(['import', 'runbooks', 'approve', 'completion']));
    expect(complete('').sort()).toEqual([...names, '--help'].sort());
  });

  it.each(names)('%s: its sub-commands and every flag it takes', (name) => {
    const command = COMMANDS[name];
    if (command.subs.length) expect(complete(name, '')).toEqual([...command.subs]);
    expect(complete(name, '-').sort()).toEqual(flagsOf(command).sort());
  });

  it('zsh and fish name every command, sub-command and flag too', () => {
    const zsh = completionScript('zsh', COMMANDS);
    const fish = completionScript('fish', COMMANDS);
    for (const [name, command] of Object.entries(COMMANDS)) {
      expect(zsh).toContain(
        `    ${name}) subs=(${command.subs.join(' ')}); flags=(${flagsOf(command).join(' ')}) ;;`,
      );
      for (const flag of flagsOf(command)) {
        const opt = flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
        expect(fish).toContain(
          `complete -c firebreak -n '__fish_seen_subcommand_from ${name}' ${opt}`,
        );
      }
    }
  });

  it('`firebreak --help` shows every command of the table', () => {
    for (const name of names) expect(USAGE).toMatch(new RegExp(`^  firebreak ${name}\\b`, 'm'));
  });
});
