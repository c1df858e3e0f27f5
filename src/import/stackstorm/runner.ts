import type { PathKey } from '../../common/yaml-source.js';
import type { ImportInput } from '../kinds.js';
import { hasJinja } from './jinja.js';
import type { Option } from './parameters.js';
import { isMap, type Json, type Report } from './source.js';

/**
 * The shell runners: which there are, their own parameters (a command prefix for cwd and env,
 * the timeout, the target hosts), and an entry point as a script step.
 */

export const RUNNER_ALIASES: Record<string, string> = {
  'run-local': 'local-shell-cmd',
  'run-remote': 'remote-shell-cmd',
  'run-local-script': 'local-shell-script',
  'run-remote-script': 'remote-shell-script',
};
export const SHELL_RUNNERS = [
  'local-shell-cmd',
  'remote-shell-cmd',
  'local-shell-script',
  'remote-shell-script',
];

/** Runner parameters of the shell runners (st2 contrib/runners/*_runner/runner.yaml). */
export const CMD_RUNNER_PARAMS = ['cmd'];
export const COMMON_RUNNER_PARAMS = ['sudo', 'sudo_password', 'cwd', 'env', 'timeout', 'kwarg_op'];
export const REMOTE_RUNNER_PARAMS = [
  'hosts',
  'username',
  'password',
  'private_key',
  'passphrase',
  'port',
  'parallel',
  'bastion_host',
  'dir',
];

interface RunnerSettings {
  prefix: string[];
  timeout?: string;
  hosts?: string[];
  hostsOption?: Option;
  strategy?: string;
  bad: boolean;
}

const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Runner parameters → a command prefix (cwd, env), the timeout, targets, or findings. */
export function runnerSettings(
  spec: Record<string, Json>,
  report: Report,
  remote: boolean,
): RunnerSettings {
  const out: RunnerSettings = { prefix: [], bad: false };
  const at = (p: string): PathKey[] => ['parameters', p];
  const fixedNote = (p: string) => {
    if (spec[p].immutable !== true)
      report.add(
        'changed',
        at(p),
        `${p} could be changed at run time in StackStorm; the runbook uses this value`,
        undefined,
        p,
      );
  };
  for (const [p, s] of Object.entries(spec)) {
    const d = s.default;
    switch (p) {
      case 'cmd':
        break; // handled by the caller
      case 'sudo':
        if (d === true)
          report.add(
            'skipped',
            at(p),
            "sudo is not converted: put sudo into the command, or log in as a user with the rights (the node's user)",
            undefined,
            p,
          );
        else if (s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            'sudo could be switched on at run time: not converted',
            undefined,
            p,
          );
        break;
      case 'sudo_password':
      case 'password':
      case 'private_key':
      case 'passphrase':
        if (d !== undefined || s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            `${p}: credentials are not imported; create a credential (POST /credentials) and set it on the nodes`,
            undefined,
            p,
          );
        break;
      case 'username':
      case 'port':
      case 'bastion_host':
        if (d !== undefined || s.immutable !== true)
          report.add(
            'skipped',
            at(p),
            `${p}: how a node is reached is the node's (inventory), not the runbook's`,
            undefined,
            p,
          );
        break;
      case 'dir':
        if (d !== undefined)
          report.add(
            'skipped',
            at(p),
            'dir: Firebreak uploads a script to a temporary directory of its own',
            undefined,
            p,
          );
        break;
      case 'kwarg_op':
        break; // used for named script arguments
      case 'cwd':
        if (typeof d === 'string' && d && !hasJinja(d)) {
          out.prefix.push(`cd -- '${d.replace(/'/g, `'\\''`)}' || exit 1`);
          fixedNote(p);
          report.add('converted', at(p), `cwd: the command starts with cd -- ${d}`, undefined, p);
        } else if (d !== undefined || s.immutable !== true) {
          report.add(
            'skipped',
            at(p),
            'cwd without a plain default is not converted',
            undefined,
            p,
          );
        }
        break;
      case 'env':
        if (isMap(d)) {
          for (const [k, v] of Object.entries(d)) {
            if (
              !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ||
              (typeof v === 'string' && hasJinja(v)) ||
              isMap(v)
            ) {
              report.add(
                'skipped',
                ['parameters', 'env', 'default'],
                `env ${k}: not converted (not a name and plain value)`,
                k,
                p,
              );
              continue;
            }
            out.prefix.push(`export ${k}='${String(v).replace(/'/g, `'\\''`)}'`);
          }
          fixedNote(p);
        } else if (d !== undefined || s.immutable !== true) {
          report.add(
            'skipped',
            at(p),
            'env without a mapping default is not converted',
            undefined,
            p,
          );
        }
        break;
      case 'timeout':
        if (typeof d === 'number' && Number.isInteger(d) && d > 0) {
          out.timeout = `${d}s`;
          fixedNote(p);
          report.add('converted', at(p), `timeout ${d}s is the runbook's timeout`, undefined, p);
        } else if (d !== undefined) {
          report.add(
            'skipped',
            at(p),
            'timeout must be a whole number of seconds: not converted',
            undefined,
            p,
          );
        }
        break;
      case 'parallel':
        if (typeof d === 'boolean') out.strategy = d ? 'parallel' : 'sequential';
        break;
      case 'hosts':
        if (typeof d === 'string' && d.trim() && !hasJinja(d)) {
          const hosts = d
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean);
          const wrong = hosts.filter((h) => !HOST_RE.test(h));
          if (wrong.length) {
            report.add(
              'error',
              at(p),
              `hosts: ${wrong.join(', ')} is not a node name`,
              'default',
              p,
            );
            out.bad = true;
          } else {
            out.hosts = hosts;
            fixedNote(p);
            report.add(
              'converted',
              at(p),
              `hosts ${hosts.join(', ')} are the target nodes (by name, from the inventory)`,
              undefined,
              p,
            );
          }
        } else if (d !== undefined) {
          report.add(
            'skipped',
            at(p),
            'hosts without a plain default is not converted',
            'default',
            p,
          );
          out.bad = true;
        }
        break;
    }
  }
  if (remote && !out.hosts && !out.bad) {
    out.hostsOption = {
      name: 'hosts',
      type: 'string',
      required: true,
      description: 'The node to run on (its name in the inventory)',
      pattern: '[A-Za-z0-9][A-Za-z0-9._-]*',
    };
    report.add(
      'changed',
      [],
      'hosts is given at run time: option hosts names one node per run (StackStorm took a comma-separated list); for several nodes, give targets a tag or attribute filter',
      'runner_type',
      'hosts',
    );
  }
  return out;
}

const INTERPRETERS: Record<string, string> = {
  sh: '/bin/sh',
  bash: '/bin/bash',
  dash: '/bin/dash',
  ksh: '/bin/ksh',
  zsh: '/bin/zsh',
};
const STDIN_INTERPRETERS = ['python', 'python3', 'perl', 'ruby', 'node'];

/**
 * An entry point as a `script` step. A shell script gets its arguments with `set --` before its
 * text; a python, perl, ruby or node script is fed to its interpreter on stdin from a quoted
 * here-document (`python3 - ARGS`), so it keeps reading `sys.argv` as under StackStorm.
 */
export function scriptStep(
  entry: ImportInput,
  args: string,
  prefix: string,
): { script: string; interpreter?: string } | { skip: string } {
  const text = entry.text.replace(/\r\n/g, '\n');
  if (hasJinja(text) || text.includes('{{'))
    return { skip: `${entry.file} contains {{ … }}, which Firebreak would read as templates` };
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(text);
  let prog = shebang ? shebang[1].replace(/^.*\//, '') : 'sh';
  if (prog === 'env' && shebang?.[2]) prog = shebang[2].replace(/^.*\//, '');
  const setArgs = args ? `set -- ${args}\n` : '';
  const head = prefix ? `${prefix}\n` : '';
  if (INTERPRETERS[prog]) {
    const lines = text.split('\n');
    const first = shebang ? `${lines.shift()}\n` : '';
    return {
      interpreter: INTERPRETERS[prog],
      script: `${first}${head}${setArgs}${lines.join('\n')}`,
    };
  }
  const base = prog.replace(/[0-9.]+$/, '');
  if (STDIN_INTERPRETERS.includes(prog) || STDIN_INTERPRETERS.includes(base)) {
    let delim = 'FIREBREAK_SCRIPT';
    while (text.split('\n').includes(delim)) delim += '_';
    const exe = prog === 'python' ? 'python3' : prog;
    return {
      script: `${head}${setArgs}exec ${exe} - "$@" <<'${delim}'\n${text.endsWith('\n') ? text : `${text}\n`}${delim}\n`,
    };
  }
  return { skip: `${entry.file} runs with ${prog}, which the import does not know how to start` };
}
