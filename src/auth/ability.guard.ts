import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditService } from '../audit/audit.service.js';
import { DomainException } from '../common/errors.js';
import { auditContextOf } from '../audit/request-audit.js';
import type { FirebreakRequest } from '../common/request-context.js';
import { REQUIRED_ABILITY, type RequiredAbility } from '../common/access/acl.decorator.js';

/**
 * Route-level permission check (`@CheckAbility(action, subject)`), run after authentication.
 * A denial is audited and answered with 403 and the reason.
 */
@Injectable()
export class AbilityGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required = this.reflector.getAllAndOverride<RequiredAbility | undefined>(
      REQUIRED_ABILITY,
      [context.getHandler(), context.getClass()],
    );
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
