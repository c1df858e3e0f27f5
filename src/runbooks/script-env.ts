import type { TemplateValues } from './template.js';

/**
 * A `script` for an interpreter other than a POSIX shell (python, node, …) gets its values as
 * environment variables, never quoted into its text (shell quoting means nothing to python):
 * `FIREBREAK_OPTION_SERVICE`, `FIREBREAK_NODE_NAME`, `FIREBREAK_NODE_ATTRIBUTE_REGION`,
 * `FIREBREAK_STEP_VERSION_CAPTURE_V`, `FIREBREAK_EXECUTION_ID`, `FIREBREAK_INCIDENT_ID`.
 * Lists are JSON arrays; other values their text.
 */
/** Script interpreters that read POSIX shell, whose scripts get values quoted into their text. */
export function isShellInterpreter(interpreter: string | undefined): boolean {
  return /^(sh|bash|dash|ash|ksh|mksh|zsh|busybox)$/.test(
    (interpreter ?? '/bin/sh').replace(/^.*\//, ''),
  );
}

const envPart = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/** The variable a template path becomes, or null when it has none. */
export function scriptEnvName(path: readonly string[]): string | null {
  const [root, a, b, c] = path;
  if (root === 'options' && path.length === 2) return `FIREBREAK_OPTION_${envPart(a)}`;
  if (root === 'node' && path.length === 2) return `FIREBREAK_NODE_${envPart(a)}`;
  if (root === 'node' && a === 'attributes' && path.length === 3)
    return `FIREBREAK_NODE_ATTRIBUTE_${envPart(b)}`;
  if (root === 'steps' && b === 'captures' && path.length === 4)
    return `FIREBREAK_STEP_${envPart(a)}_CAPTURE_${envPart(c)}`;
  if ((root === 'execution' || root === 'incident') && path.length === 2)
    return `FIREBREAK_${envPart(root)}_${envPart(a)}`;
  return null;
}

const text = (v: unknown) =>
  Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v) : String(v);

/** Every value a script may read, by variable name. */
export function scriptEnvironment(values: TemplateValues): Record<string, string> {
  const env: Record<string, string> = {};
  const put = (path: string[], v: unknown) => {
    const name = scriptEnvName(path);
    if (name && v !== undefined && v !== null) env[name] = text(v);
  };
  for (const [k, v] of Object.entries(values.options ?? {})) put(['options', k], v);
  if (values.node) {
    for (const k of ['name', 'hostname', 'port', 'user'] as const) put(['node', k], values.node[k]);
    for (const [k, v] of Object.entries(values.node.attributes ?? {}))
      put(['node', 'attributes', k], v);
  }
  for (const [step, s] of Object.entries(values.steps ?? {}))
    for (const [k, v] of Object.entries(s.captures ?? {})) put(['steps', step, 'captures', k], v);
  for (const [k, v] of Object.entries(values.execution ?? {})) put(['execution', k], v);
  for (const [k, v] of Object.entries(values.incident ?? {})) put(['incident', k], v);
  return env;
}
