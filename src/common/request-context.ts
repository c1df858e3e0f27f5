import type { Request } from 'express';
import type { AppAbility, Principal } from './access/ability.js';
import type { AuditContext } from '../audit/audit.service.js';

/** What the guards attach to a request. */
export interface FirebreakRequest extends Request {
  id: string;
  principal?: Principal;
  ability?: AppAbility;
}

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
