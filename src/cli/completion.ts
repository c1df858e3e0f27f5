/**
 * `firebreak completion bash|zsh|fish`: a completion script for commands, subcommands and flags.
 * Runbook names (after `run`, `plan`, `runbooks show|versions|diff`) are completed by asking the
 * server through `firebreak runbooks list --json` (the stored login or FIREBREAK_TOKEN); without
 * one, nothing is offered and nothing is printed.
 */
import { CliError, EXIT } from './errors.js';

const GLOBAL = ['--url', '--token', '--json', '--help'];

/** Command → its subcommands (may be empty) and flags. */
export const COMMAND_TREE: Record<string, { subs: string[]; flags: string[] }> = {
  login: {
    subs: [],
    flags: ['--url', '--username', '--password-stdin', '--name', '--expires', '--json'],
  },
  logout: { subs: [], flags: ['--url'] },
  whoami: { subs: [], flags: GLOBAL },
  lint: { subs: [], flags: [] },
  plan: { subs: [], flags: ['-o', '--node', '--version', ...GLOBAL] },
  run: { subs: [], flags: ['-o', '--node', '--follow', '--break-glass', '--url', '--token'] },
  tail: { subs: [], flags: ['--url', '--token'] },
  runbooks: {
    subs: ['list', 'show', 'versions', 'diff'],
    flags: ['--search', '--tag', '--kind', '--include-disabled', '--from', '--to', ...GLOBAL],
  },
  executions: {
    subs: ['list', 'show'],
    flags: ['--status', '--runbook', '--actor', '--limit', ...GLOBAL],
  },
  approve: { subs: [], flags: ['--comment', '--choice', ...GLOBAL] },
  reject: { subs: [], flags: ['--comment', ...GLOBAL] },
  incidents: {
    subs: ['list', 'declare', 'show', 'note', 'status'],
    flags: [
      '--title',
      '--severity',
      '--summary',
      '--service',
      '--status',
      '--note',
      '--limit',
      ...GLOBAL,
    ],
  },
  completion: { subs: ['bash', 'zsh', 'fish'], flags: [] },
};

const RUNBOOK_NAME_AFTER = ['run', 'plan', 'show', 'versions', 'diff'];
const LIST_NAMES =
  'firebreak runbooks list --json 2>/dev/null | sed -n \'s/^    "name": "\\([^"]*\\)",$/\\1/p\'';

function bash(): string {
  const cases = Object.entries(COMMAND_TREE)
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
    COMPREPLY=( $(compgen -W "${Object.keys(COMMAND_TREE).join(' ')} --help" -- "$cur") )
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
  elif [ "$cmd" = lint ]; then
    COMPREPLY=( $(compgen -f -- "$cur") )
  else
    case "$prev" in
      ${RUNBOOK_NAME_AFTER.join('|')}) COMPREPLY=( $(compgen -W "$(${LIST_NAMES})" -- "$cur") ) ;;
    esac
  fi
}
complete -F _firebreak firebreak
`;
}

function zsh(): string {
  const subs = Object.entries(COMMAND_TREE)
    .map(
      ([c, { subs, flags }]) => `    ${c}) subs=(${subs.join(' ')}); flags=(${flags.join(' ')}) ;;`,
    )
    .join('\n');
  return `#compdef firebreak
# firebreak zsh completion: firebreak completion zsh > "\${fpath[1]}/_firebreak"  (or: source <(firebreak completion zsh))
_firebreak() {
  local -a subs flags
  if (( CURRENT == 2 )); then
    compadd -- ${Object.keys(COMMAND_TREE).join(' ')} --help
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
  elif [[ "\${words[2]}" == lint ]]; then
    _files
  else
    case "\${words[CURRENT-1]}" in
      ${RUNBOOK_NAME_AFTER.join('|')}) compadd -- \${(f)"$(${LIST_NAMES})"} ;;
    esac
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautoload ]]; then _firebreak "$@"; else compdef _firebreak firebreak; fi
`;
}

function fish(): string {
  const cmds = Object.keys(COMMAND_TREE);
  const lines = [
    '# firebreak fish completion: firebreak completion fish > ~/.config/fish/completions/firebreak.fish',
    'complete -c firebreak -f',
    `complete -c firebreak -n __fish_use_subcommand -a '${cmds.join(' ')}'`,
  ];
  for (const [c, { subs, flags }] of Object.entries(COMMAND_TREE)) {
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
    `complete -c firebreak -n '__fish_seen_subcommand_from ${RUNBOOK_NAME_AFTER.join(' ')}' -a '(${LIST_NAMES.replace(/'/g, "\\'")})'`,
    "complete -c firebreak -n '__fish_seen_subcommand_from lint' -F",
  );
  return `${lines.join('\n')}\n`;
}

export function completion(argv: string[]): number {
  const shell = argv[0];
  const scripts: Record<string, () => string> = { bash, zsh, fish };
  if (argv.length !== 1 || !scripts[shell])
    throw new CliError(EXIT.usage, 'usage: firebreak completion bash|zsh|fish');
  process.stdout.write(scripts[shell]());
  return EXIT.ok;
}
