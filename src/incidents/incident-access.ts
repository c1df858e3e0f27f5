import type { AuditService } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import type { Actor } from '../executions/executions.service.js';

/** Audits a record-level denial on an incident (like AbilityGuard's `denied`) and returns the 403. */
export async function incidentDenied(
  audit: AuditService,
  actor: Actor,
  attempted: string,
  ref: string,
  reason?: string,
): Promise<DomainException> {
  const why =
    reason ??
    `your roles (${actor.principal.roles.join(', ') || 'none'}) do not allow you to ${attempted} incidents`;
  await audit.record(actor.audit, {
    action: 'access.denied',
    outcome: 'denied',
    subjectType: 'Incident',
    subjectId: ref,
    details: { attempted, reason: why },
  });
  return new DomainException('FORBIDDEN', why, { action: attempted, subject: 'Incident' });
}
