/**
 * Incident rules with no Nest or database in sight: severities, the status machine, the ICS roles
 * and who may do what. The service and the ACL both follow these; the specs pin them as tables.
 */

/** The longest note (characters). */
export const NOTE_MAX_CHARS = 10_000;

export const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SEVERITY_MEANINGS: Record<Severity, string> = {
  SEV1: 'Critical: a core service is down or data is at risk for many customers; all hands, page now',
  SEV2: 'Major: a core function is badly degraded or down for some customers; page the on-call',
  SEV3: 'Minor: partial degradation with a workaround, or an internal tool is down; business hours',
  SEV4: 'Low: cosmetic or no customer impact yet; track and fix in normal work',
};

export const STATUSES = [
  'triggered',
  'investigating',
  'identified',
  'monitoring',
  'resolved',
] as const;
export type IncidentStatus = (typeof STATUSES)[number];

/**
 * Allowed moves. An open incident may move to any other open status (skipping ahead, or back
 * when a fix did not hold) and may be resolved directly; nothing returns to `triggered`. A
 * resolved incident only reopens, to `investigating`.
 */
export const TRANSITIONS: Record<IncidentStatus, readonly IncidentStatus[]> = {
  triggered: ['investigating', 'identified', 'monitoring', 'resolved'],
  investigating: ['identified', 'monitoring', 'resolved'],
  identified: ['investigating', 'monitoring', 'resolved'],
  monitoring: ['investigating', 'identified', 'resolved'],
  resolved: ['investigating'],
};

export type TransitionCheck =
  { ok: true; reopen: boolean } | { ok: false; reason: string; allowed: readonly IncidentStatus[] };

export function checkTransition(from: IncidentStatus, to: IncidentStatus): TransitionCheck {
  const allowed = TRANSITIONS[from];
  if (allowed.includes(to)) return { ok: true, reopen: from === 'resolved' };
  const reason =
    from === to
      ? `the incident is already ${to}`
      : from === 'resolved'
        ? `a resolved incident cannot move to ${to}; reopen it by moving to investigating`
        : `cannot move from ${from} to ${to}; allowed: ${allowed.join(', ')}`;
  return { ok: false, reason, allowed };
}

/** The timestamp column each status sets the first time it is reached. */
export const FIRST_REACHED: Partial<
  Record<IncidentStatus, 'acknowledgedAt' | 'identifiedAt' | 'mitigatedAt' | 'resolvedAt'>
> = {
  investigating: 'acknowledgedAt',
  identified: 'identifiedAt',
  monitoring: 'mitigatedAt',
  resolved: 'resolvedAt',
};

/** Timestamps a move to `to` sets: the first time each of these is reached (never overwritten). */
export function firstReachedFields(
  current: Partial<
    Record<'acknowledgedAt' | 'identifiedAt' | 'mitigatedAt' | 'resolvedAt', Date | null>
  >,
  to: IncidentStatus,
): Array<'acknowledgedAt' | 'identifiedAt' | 'mitigatedAt' | 'resolvedAt'> {
  // Leaving `triggered` in any direction acknowledges; resolving directly also mitigates.
  const implied: IncidentStatus[] = [to];
  if (to !== 'triggered') implied.push('investigating');
  if (to === 'resolved') implied.push('monitoring');
  const fields = implied.map((s) => FIRST_REACHED[s]).filter((f) => f !== undefined);
  return [...new Set(fields)].filter((f) => !current[f]);
}

export const ICS_ROLES = [
  'commander',
  'operations_lead',
  'communications_lead',
  'scribe',
  'subject_matter_expert',
] as const;
export type IcsRole = (typeof ICS_ROLES)[number];

export const ROLE_TITLES: Record<IcsRole, string> = {
  commander: 'Incident commander',
  operations_lead: 'Operations lead',
  communications_lead: 'Communications lead',
  scribe: 'Scribe',
  subject_matter_expert: 'Subject-matter expert',
};

/** Roles several people may hold at once; the others have one holder, and assigning hands over. */
export const MULTI_HOLDER_ROLES: readonly IcsRole[] = ['subject_matter_expert'];

export const isIcsRole = (r: string): r is IcsRole => (ICS_ROLES as readonly string[]).includes(r);

export const INCIDENT_ACTIONS = [
  'read',
  'declare',
  'note',
  'run',
  'change-severity',
  'change-status',
  'assign-role',
  'edit',
] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

/** Who the caller is with respect to one incident. */
export interface IncidentCaller {
  /** The highest built-in role: viewer, responder, operator, admin (or none). */
  role: 'none' | 'viewer' | 'responder' | 'operator' | 'admin';
  isCommander: boolean;
}

const RANK = { none: 0, viewer: 1, responder: 2, operator: 3, admin: 4 } as const;

/**
 * The truth table: viewers read; responders (and up) declare, note and run runbooks for an
 * incident (the runbook's own access still applies); only the incident's commander or an admin
 * changes severity, status, roles and the editable fields.
 */
export function mayDo(caller: IncidentCaller, action: IncidentAction): boolean {
  const rank = RANK[caller.role];
  switch (action) {
    case 'read':
      return rank >= RANK.viewer;
    case 'declare':
    case 'note':
    case 'run':
      return rank >= RANK.responder;
    default:
      return rank >= RANK.admin || (rank >= RANK.responder && caller.isCommander);
  }
}
