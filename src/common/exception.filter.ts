import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainException, ErrorStatus, type ErrorCode } from './errors.js';
import type { FirebreakRequest } from './request-context.js';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
  requestId: string | null;
}

/** Codes for errors raised by the framework and body parser rather than our services. */
function codeForHttp(status: number, err: HttpException & { type?: string }): ErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 401) return 'AUTH_REQUIRED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 409) return 'CONFLICT';
  if (status >= 400 && status < 500)
    return err.type === 'entity.parse.failed' ? 'MALFORMED_REQUEST' : 'VALIDATION_FAILED';
  return 'INTERNAL';
}

/**
 * The one place errors become responses: `{ code, message, details, requestId }`. Unknown errors
 * are logged with their stack and answered with a bare 500: no stack or internals reach a client.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  /** For Express middleware outside Nest's routes (body parsers, the hook lane). */
  respond(exception: unknown, req: Request, res: Response): void {
    this.catch(exception, {
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
    } as ArgumentsHost);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<FirebreakRequest>();
    const requestId = req?.id ? String(req.id) : null;
    let status: number;
    let body: ErrorBody;
    if (exception instanceof DomainException) {
      status = exception.status;
      body = {
        code: exception.code,
        message: exception.message,
        details: exception.details,
        requestId,
      };
      for (const [k, v] of Object.entries(exception.headers ?? {})) res.setHeader(k, v);
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const code = codeForHttp(status, exception);
      body = { code, message: httpMessage(exception, code, req), requestId };
    } else if (isBodyParserError(exception)) {
      status = exception.status;
      const code: ErrorCode =
        exception.type === 'entity.too.large'
          ? 'PAYLOAD_TOO_LARGE'
          : exception.type === 'entity.parse.failed'
            ? 'MALFORMED_REQUEST'
            : status === 415
              ? 'UNSUPPORTED_MEDIA_TYPE'
              : 'MALFORMED_REQUEST';
      body = { code, message: bodyParserMessage(exception), requestId };
    } else {
      status = ErrorStatus.INTERNAL;
      this.logger.error({ err: exception, requestId }, 'unhandled error');
      body = {
        code: 'INTERNAL',
        message: 'internal error; quote the request id when reporting it',
        requestId,
      };
    }
    if (body.details === undefined) delete body.details;
    res.status(status).json(body);
  }
}

function httpMessage(e: HttpException, code: ErrorCode, req: FirebreakRequest): string {
  if (code === 'NOT_FOUND' && /^Cannot /.test(e.message))
    return `no route ${req.method} ${req.path}`;
  const r = e.getResponse();
  if (typeof r === 'object' && r && 'message' in r) {
    const m = r.message;
    return Array.isArray(m) ? m.join('; ') : String(m);
  }
  return e.message;
}

interface BodyParserError {
  status: number;
  type: string;
  limit?: number;
  message: string;
}

function isBodyParserError(e: unknown): e is BodyParserError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as BodyParserError).type === 'string' &&
    typeof (e as BodyParserError).status === 'number'
  );
}

function bodyParserMessage(e: BodyParserError): string {
  if (e.type === 'entity.too.large')
    return `request body is larger than the limit of ${e.limit} bytes`;
  if (e.type === 'entity.parse.failed') return `request body is not valid JSON: ${e.message}`;
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return e.message;
  return 'malformed request body';
}
