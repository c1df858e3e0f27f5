import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditService } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { auditContextOf } from '../audit/request-audit.js';
import type { FirebreakRequest } from '../common/request-context.js';
import { REQUIRED_ABILITY, type RequiredAbility } from '../common/access/acl.decorator.js';
import { RouteMetadataCache } from '../common/route-metadata.js';

/**
 * Route-level permission check (`@CheckAbility(action, subject)`), run after authentication.
 * A denial is audited and answered with 403 and the reason.
 */
@Injectable()
export class AbilityGuard implements CanActivate {
  private readonly required: RouteMetadataCache<RequiredAbility>;

  constructor(
    reflector: Reflector,
    private readonly audit: AuditService,
  ) {
    this.required = new RouteMetadataCache(reflector, REQUIRED_ABILITY);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required = this.required.get(context);
    if (!required) return true;
    const req = context.switchToHttp().getRequest<FirebreakRequest>();
    if (req.ability?.can(required.action, required.subject)) return true;
    throw await denied(this.audit, req, required.action, required.subject);
  }
}

/** Audits a denial and returns the 403 to throw. Services use it for record-level denials too. */
export async function denied(
  audit: AuditService,
  req: FirebreakRequest,
  action: string,
  subjectType: string,
  subjectId?: string,
): Promise<DomainException> {
  const roles = req.principal?.roles.join(', ') || 'none';
  const reason = `your roles (${roles}) do not allow ${action} on ${subjectType}`;
  await audit.record(auditContextOf(req), {
    action: 'access.denied',
    outcome: 'denied',
    subjectType,
    subjectId: subjectId ?? null,
    details: { attempted: action, route: `${req.method} ${req.route?.path ?? req.path}`, reason },
  });
  return new DomainException('FORBIDDEN', reason, { action, subject: subjectType });
}
