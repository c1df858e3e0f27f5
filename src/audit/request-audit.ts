import type { Request } from 'express';
import type { FirebreakRequest } from '../common/request-context.js';
import type { AuditContext } from './audit.service.js';

/** The audit context of a request: the caller (or `anonymous`), request id and source address. */
export function auditContextOf(req: Request, fallbackActor = 'anonymous'): AuditContext {
  const r = req as FirebreakRequest;
  return {
    actorId: r.principal?.id ?? null,
    actorName: r.principal?.username ?? fallbackActor,
    requestId: r.id ? String(r.id) : null,
    sourceIp: r.ip ?? null,
  };
}
