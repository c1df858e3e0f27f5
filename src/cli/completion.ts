/**
 * `firebreak completion bash|zsh|fish`: a completion script for commands, subcommands and flags.
 * Runbook names (after `run`, `plan`, `runbooks show|versions|diff`) are completed by asking the
 * server through `firebreak runbooks list --json` (the stored login or FIREBREAK_TOKEN); without
 * one, nothing is offered and nothing is printed.
 */
import { flagsOf, type Command } from './dispatch.js';
import { CliError, EXIT } from './errors.js';

/** The command table, as completion needs it: each command's sub-commands and flags. */
export type CommandTable = Readonly<Record<string, Command>>;

interface Tree {
  commands: Array<[string, { subs: readonly string[]; flags: string[] }]>;
  /** Words after which a runbook name comes (`run`, `runbooks show`…). */
  runbookAfter: string[];
  /** Commands whose arguments are files (`lint`). */
  files: string[];
}

function treeOf(table: CommandTable): Tree {
  const commands = Object.entries(table).map(
    ([name, c]) => [name, { subs: c.subs, flags: flagsOf(c) }] as Tree['commands'][number],
  );
  const runbookAfter = new Set<string>();
  for (const [name, c] of Object.entries(table)) {
    if (c.completes === 'runbook') runbookAfter.add(name);
    for (const sub of c.runbookAfter ?? []) runbookAfter.add(sub);
  }
  const files = Object.keys(table).filter((name) => table[name].completes === 'files');
  return { commands, runbookAfter: [...runbookAfter], files };
}

/** A shell test: is the command word (`$cmd`) one whose arguments are files? */
function fileTest(t: Tree, word: string): string {
  return `[[ " ${t.files.join(' ')} " == *" ${word} "* ]]`;
}

const LIST_NAMES =
  'firebreak runbooks list --json 2>/dev/null | sed -n \'s/^    "name": "\\([^"]*\\)",$/\\1/p\'';

function bash(t: Tree): string {
  const cases = t.commands
    .map(
      ([c, { subs, flags }]) => `    ${c}) subs="${subs.join(' ')}"; flags="${flags.join(' ')}" ;;`,
    )
    .join('\n');
  return `# firebreak bash completion: eval "$(firebreak completion bash)"
_firebreak() {
  local cur prev cmd subs flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${t.commands.map(([c]) => c).join(' ')} --help" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then
    COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
  elif ${fileTest(t, '$cmd')}; then
    COMPREPLY=( $(compgen -f -- "$cur") )
  else
    case "$prev" in
      ${t.runbookAfter.join('|')}) COMPREPLY=( $(compgen -W "$(${LIST_NAMES})" -- "$cur") ) ;;
    esac
  fi
}
complete -F _firebreak firebreak
`;
}

function zsh(t: Tree): string {
  const subs = t.commands
    .map(
      ([c, { subs, flags }]) => `    ${c}) subs=(${subs.join(' ')}); flags=(${flags.join(' ')}) ;;`,
    )
    .join('\n');
  return `#compdef firebreak
# firebreak zsh completion: firebreak completion zsh > "\${fpath[1]}/_firebreak"  (or: source <(firebreak completion zsh))
_firebreak() {
  local -a subs flags
  if (( CURRENT == 2 )); then
    compadd -- ${t.commands.map(([c]) => c).join(' ')} --help
    return
  fi
  case "\${words[2]}" in
${subs}
    *) return ;;
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- $flags
  elif (( CURRENT == 3 )) && (( \${#subs} )); then
    compadd -- $subs
  elif ${fileTest(t, '${words[2]}')}; then
    _files
  else
    case "\${words[CURRENT-1]}" in
      ${t.runbookAfter.join('|')}) compadd -- \${(f)"$(${LIST_NAMES})"} ;;
    esac
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautoload ]]; then _firebreak "$@"; else compdef _firebreak firebreak; fi
`;
}

function fish(t: Tree): string {
  const cmds = t.commands.map(([c]) => c);
  const lines = [
    '# firebreak fish completion: firebreak completion fish > ~/.config/fish/completions/firebreak.fish',
    'complete -c firebreak -f',
    `complete -c firebreak -n __fish_use_subcommand -a '${cmds.join(' ')}'`,
  ];
  for (const [c, { subs, flags }] of t.commands) {
    if (subs.length)
      lines.push(
        `complete -c firebreak -n '__fish_seen_subcommand_from ${c}; and not __fish_seen_subcommand_from ${subs.join(' ')}' -a '${subs.join(' ')}'`,
      );
    for (const f of flags) {
      const opt = f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`;
      lines.push(`complete -c firebreak -n '__fish_seen_subcommand_from ${c}' ${opt}`);
    }
  }
  lines.push(
    `complete -c firebreak -n '__fish_seen_subcommand_from ${t.runbookAfter.join(' ')}' -a '(${LIST_NAMES.replace(/'/g, "\\'")})'`,
    ...t.files.map((c) => `complete -c firebreak -n '__fish_seen_subcommand_from ${c}' -F`),
  );
  return `${lines.join('\n')}\n`;
}

const SCRIPTS: Record<string, (t: Tree) => string> = { bash, zsh, fish };
export const SHELLS = Object.keys(SCRIPTS);

/** The completion script for `shell` over `table` (every command, sub-command and flag in it). */
export function completionScript(shell: string, table: CommandTable): string {
  if (!Object.hasOwn(SCRIPTS, shell))
    throw new CliError(EXIT.usage, `usage: firebreak completion ${SHELLS.join('|')}`);
  return SCRIPTS[shell](treeOf(table));
}

export function completion(argv: string[], table: CommandTable): number {
  if (argv.length !== 1)
    throw new CliError(EXIT.usage, `usage: firebreak completion ${SHELLS.join('|')}`);
  process.stdout.write(completionScript(argv[0], table));
  return EXIT.ok;
}
