import { split } from 'shlex';

/** A usage error: names the bad word or option; the reply adds the command's usage. */
export class UsageError extends Error {}

/**
 * Splits a slash command's text into words with shell-style quoting (`msg="two words"` is one
 * word, `msg=two words`), through shlex (POSIX mode). Slack clients often turn quotes into
 * typographic ones: those count as plain quotes. An unbalanced quote is a usage error.
 */
export function words(text: string): string[] {
  const plain = text
    .replace(/[\u201c\u201d\u201e\u2033]/g, '"')
    .replace(/[\u2018\u2019\u201a]/g, "'");
  try {
    return split(plain);
  } catch {
    throw new UsageError('unbalanced quotes: close every " and \' you open');
  }
}

export interface RunArgs {
  options: Record<string, string>;
  /** `on web-1,web-2`: narrow the targets to these node names. */
  nodes?: string[];
  /** `for INC-42`: run it for the incident. */
  incident?: string;
}

const OPTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const INCIDENT_REF = /^INC-\d{1,9}$/i;

/**
 * `key=value … [on NODES] [for INC-42]` after the runbook name. Every problem names the word
 * it is about; an option given twice is refused (which value was meant?).
 */
export function parseRunArgs(rest: readonly string[], allowIncident: boolean): RunArgs {
  const out: RunArgs = { options: {} };
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i];
    if (w === 'on' || w === 'for') {
      const next = rest[i + 1];
      if (next === undefined) throw new UsageError(`\`${w}\` needs a value after it`);
      i++;
      if (w === 'on') {
        if (out.nodes) throw new UsageError('`on` given twice');
        const names = next
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean);
        const bad = names.find((n) => !NODE_NAME.test(n));
        if (names.length === 0 || bad !== undefined)
          throw new UsageError(`on ${next}: expected node names separated by commas`);
        out.nodes = names;
      } else {
        if (!allowIncident) throw new UsageError('`for INC-N` applies to `run` only');
        if (out.incident) throw new UsageError('`for` given twice');
        if (!INCIDENT_REF.test(next)) throw new UsageError(`for ${next}: expected INC-<number>`);
        out.incident = next.toUpperCase();
      }
      continue;
    }
    const eq = w.indexOf('=');
    if (eq <= 0) throw new UsageError(`${w}: expected key=value, \`on NODES\` or \`for INC-N\``);
    const key = w.slice(0, eq);
    if (!OPTION_NAME.test(key)) throw new UsageError(`option ${key}: not a valid option name`);
    if (Object.hasOwn(out.options, key)) throw new UsageError(`option ${key}: given twice`);
    out.options[key] = w.slice(eq + 1);
  }
  return out;
}
