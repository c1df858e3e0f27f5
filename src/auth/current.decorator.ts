import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuditContext } from '../audit/audit.service.js';
import { auditContextOf } from '../audit/request-audit.js';
import type { FirebreakRequest } from '../common/request-context.js';
import type { AppAbility, Principal } from '../common/access/ability.js';

const req = (ctx: ExecutionContext) => ctx.switchToHttp().getRequest<FirebreakRequest>();

/** The authenticated caller (the global guard has already rejected anonymous requests). */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => req(ctx).principal!,
);

/** The caller's CASL ability, built once for this request. */
export const CurrentAbility = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AppAbility => req(ctx).ability!,
);

/** Actor, request id and source address for audit entries. */
export const Audit = createParamDecorator((_: unknown, ctx: ExecutionContext): AuditContext =>
  auditContextOf(req(ctx)),
);
