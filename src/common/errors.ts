import { HttpStatus } from '@nestjs/common';

/**
 * Domain errors carry a stable code; one global filter maps the code to an HTTP status and the
 * `{ code, message, details, requestId }` body. Services and processors never throw HTTP
 * exceptions; a worker can decide retry or discard from the code alone.
 */
export const ErrorStatus = {
  VALIDATION_FAILED: HttpStatus.BAD_REQUEST,
  MALFORMED_REQUEST: HttpStatus.BAD_REQUEST,
  AUTH_REQUIRED: HttpStatus.UNAUTHORIZED,
  AUTH_INVALID_CREDENTIALS: HttpStatus.UNAUTHORIZED,
  AUTH_TOKEN_INVALID: HttpStatus.UNAUTHORIZED,
  AUTH_TOKEN_EXPIRED: HttpStatus.UNAUTHORIZED,
  AUTH_TOKEN_REVOKED: HttpStatus.UNAUTHORIZED,
  AUTH_USER_DISABLED: HttpStatus.UNAUTHORIZED,
  AUTH_SESSION_ENDED: HttpStatus.UNAUTHORIZED,
  FORBIDDEN: HttpStatus.FORBIDDEN,
  CSRF_FAILED: HttpStatus.FORBIDDEN,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  CONFLICT: HttpStatus.CONFLICT,
  /** A change freeze refuses the run (423 Locked): its name and end time in the details. */
  FROZEN: HttpStatus.LOCKED,
  PAYLOAD_TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  UNSUPPORTED_MEDIA_TYPE: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  RATE_LIMITED: HttpStatus.TOO_MANY_REQUESTS,
  UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  INTERNAL: HttpStatus.INTERNAL_SERVER_ERROR,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

export interface FieldProblem {
  /** Field path in the request, e.g. `roles[1]` or `body`; a YAML location later. */
  path: string;
  message: string;
}

export class DomainException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'DomainException';
  }

  get status(): number {
    return ErrorStatus[this.code];
  }
}

export const notFound = (what: string, id: string) =>
  new DomainException('NOT_FOUND', `${what} ${JSON.stringify(id)} does not exist`, {
    [what.toLowerCase()]: id,
  });

export const validationFailed = (problems: FieldProblem[]) =>
  new DomainException(
    'VALIDATION_FAILED',
    problems.map((p) => `${p.path}: ${p.message}`).join('; '),
    problems,
  );
