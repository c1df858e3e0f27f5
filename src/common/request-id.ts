import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * First middleware of all: every request gets an id (the caller's X-Request-Id when it is a
 * safe token, else a new UUID), echoed in the response header and carried by logs, errors and
 * audit entries.
 */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  assignRequestId(req, res);
  next();
}

/** The request's id, set on it and on the response (requestId, and the hook lane before it). */
export function assignRequestId(req: Request, res: Response): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  (req as Request & { id: string }).id = id;
  res.setHeader('X-Request-Id', id);
  return id;
}
