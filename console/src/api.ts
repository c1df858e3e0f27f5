// The console calls only the public REST API and its SSE streams, same origin, with the session
// cookie (HttpOnly: scripts never see it). Unsafe requests echo the readable fb_csrf cookie in
// X-CSRF-Token (docs/console.md).

export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  /** Field problems (`[{ path, message }]`) when the server sent them. */
  get problems(): FieldProblem[] {
    return Array.isArray(this.details)
      ? (this.details as FieldProblem[]).filter((p) => typeof p?.path === 'string')
      : [];
  }
}

export function csrfToken(): string | undefined {
  const entry = document.cookie.split('; ').find((c) => c.startsWith('fb_csrf='));
  return entry ? decodeURIComponent(entry.slice('fb_csrf='.length)) : undefined;
}

/** Called when the server says the session is gone (401). */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function request(path: string, init: { method?: string; body?: unknown; accept?: string }) {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: init.accept ?? 'application/json' };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) {
    let body: { code?: string; message?: string; details?: unknown } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // not JSON
    }
    if (res.status === 401 && path !== '/auth/login') onUnauthorized?.();
    throw new ApiError(
      res.status,
      body.code ?? `HTTP_${res.status}`,
      body.message ?? `${method} ${path}: ${res.status} ${res.statusText}`,
      body.details,
    );
  }
  return res;
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const res = await request(path, init);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function apiText(path: string): Promise<string> {
  return (await request(path, { accept: 'text/plain, text/x-diff' })).text();
}

export const enc = encodeURIComponent;

// Shapes of what the console reads (a subset of the API's DTOs).

export interface Me {
  id: string;
  username: string;
  displayName: string;
  roles: string[];
  groups: string[];
  lastLoginAt?: string | null;
  via: string;
}

export interface RunbookSummary {
  name: string;
  kind: string;
  description: string;
  tags: string[];
  currentVersion: number;
  disabled: boolean;
  disabledReason: string | null;
  updatedAt: string;
  canRun: boolean;
}

export interface OptionDef {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'list';
  description?: string;
  required?: boolean;
  secure?: boolean;
  default?: unknown;
  values?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}

export interface RunbookVersion {
  version: number;
  contentHash: string;
  sourceKind: string;
  sourcePath: string | null;
  gitCommit: string | null;
  author: string;
  createdAt: string;
  source?: string;
  definition?: { options?: OptionDef[]; targets?: { nodes?: unknown; strategy?: string } };
}

export interface Runbook extends RunbookSummary {
  version: RunbookVersion;
}

export interface NodeInfo {
  id: string;
  name: string;
  hostname: string;
  port: number;
  user: string;
  tags: string[];
  attributes: Record<string, string>;
  connection: string;
  disabled?: boolean;
}

export interface PlanAction {
  node: string | null;
  skip?: boolean;
  command?: string;
  request?: { method: string; url: string };
}

export interface PlanResult {
  runbook: string;
  version: number;
  canRun: boolean;
  disabled: boolean;
  plan: {
    targets: Array<{ name: string; hostname: string }>;
    strategy: string;
    approval: { required: boolean; reasons: string[]; approvers: string[] };
    steps: Array<{ name: string; kind: string; on: string | null; actions: PlanAction[] }>;
  };
}

export interface Execution {
  id: string;
  runbook: string;
  version: number;
  status: string;
  options: Record<string, unknown>;
  targets: string[];
  actor: string;
  trigger: string;
  incidentId: string | null;
  rerunOf: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface StepResult {
  step: string;
  node: string | null;
  status: string;
  exitCode: number | null;
  attempt: number;
  durationMs: number | null;
  error: string | null;
}

export interface Approval {
  id: string;
  executionId: string;
  runbook: string;
  step: string | null;
  state: string;
  requestedBy: string;
  reason: string;
  approvers: string[];
  required: number;
  choices: string[] | null;
  decisions: Array<{ actor: string; decision: string; comment: string | null; at: string }>;
}

export interface ExecutionDetail extends Execution {
  results: StepResult[];
  approvals: Approval[];
  children: Array<{ id: string; runbook: string; step: string; status: string }>;
}

export interface LogLine {
  seq: number;
  at: string;
  node: string | null;
  step: string | null;
  stream: string;
  line: string;
}

export const FINAL_STATUSES = new Set([
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
  'interrupted',
  'rejected',
  'expired',
  'refused',
]);

export function statusColor(status: string): string {
  switch (status) {
    case 'succeeded':
    case 'ok':
      return 'green';
    case 'failed':
    case 'timed_out':
    case 'interrupted':
    case 'rejected':
    case 'expired':
    case 'refused':
      return 'red';
    case 'running':
      return 'blue';
    case 'awaiting_approval':
    case 'awaiting_child':
      return 'yellow';
    case 'canceled':
    case 'skipped':
      return 'gray';
    default:
      return 'gray';
  }
}
