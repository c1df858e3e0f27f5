import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import type { AllExceptionsFilter } from '../common/exception.filter.js';
import { assignRequestId } from '../common/request-id.js';
import type { MetricsService } from '../observability/metrics.service.js';
import type { HooksController } from './hooks.controller.js';
import { INTEGRATION_TYPES, type IntegrationType } from './integration.entity.js';

/** `POST /hooks/<type>/<id>` as Express routes it (one optional trailing slash). */
const HOOK_PATH = new RegExp(`^/hooks/(${INTEGRATION_TYPES.join('|')})/([^/%]+)/?$`);

/**
 * The answer's headers: the OWASP REST Security Cheat Sheet's set for a JSON API, which is what
 * a hook is (its callers are Alertmanager, Grafana, PagerDuty, never a browser page). The rest
 * of helmet's set is about documents a browser renders; CORS headers are left out on purpose (no
 * page of any origin may read a hook's answer).
 */
const HOOK_HEADERS: ReadonlyArray<[string, string]> = [
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

export interface HookLaneDeps {
  hooks: HooksController;
  /** The same raw body reader as every other /hooks request (limit → 413, gzip, charset). */
  raw: RequestHandler;
  metrics: MetricsService;
  filter: AllExceptionsFilter;
}

/**
 * Alert webhooks ahead of the general pipeline. The first middleware of the app: a
 * `POST /hooks/<type>/<id>` is answered here by HooksController's own method for its type (the
 * same authentication, adapter, storage and errors as its Nest route, which stays for the
 * OpenAPI document and for paths this does not take: another case, an escaped id), with what
 * the general pipeline gives every request done here directly: the request id, the headers
 * above, the request-duration metric (labelled with the route pattern), the access-log line
 * (the same logger, fields and levels as pino-http's, built only when its level is enabled) and
 * error bodies from the one exception filter.
 *
 * Why: at webhook rates, the Nest router, guards, helmet's thirteen headers, the per-request
 * child logger and the ETag of a 202 cost more CPU than storing the delivery
 * (bench/alerts.bench.ts, README "Benchmarks").
 */
export function hookLane(deps: HookLaneDeps): RequestHandler {
  const { hooks, raw, metrics, filter } = deps;
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    const m = HOOK_PATH.exec(req.path);
    if (!m) return next();
    const type = m[1] as IntegrationType;
    const id = m[2];
    const started = Date.now();
    const end = metrics.httpDuration.startTimer();
    assignRequestId(req, res);
    for (const [k, v] of HOOK_HEADERS) res.setHeader(k, v);
    res.once('finish', () => {
      end({ method: 'POST', route: `/hooks/${type}/:id`, status_code: String(res.statusCode) });
      accessLog(req, res, started);
    });
    const fail = (err: unknown) => {
      if (res.headersSent) return void res.destroy();
      filter.respond(err, req, res);
    };
    raw(req, res, (err?: unknown) => {
      if (err) return fail(err);
      hooks.handle(type, id, req).then((answer) => {
        const body = JSON.stringify(answer);
        res.statusCode = 202;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.end(body);
      }, fail);
    });
  };
}

/** pino-http's line (logging.ts: the req/res serializers, levels by status), if enabled. */
function accessLog(req: Request, res: Response, started: number): void {
  const root = PinoLogger.root;
  if (!root) return;
  const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
  if (!root.isLevelEnabled(level)) return;
  const failed = res.statusCode >= 500;
  root.child({ req })[level](
    {
      res,
      responseTime: Date.now() - started,
      ...(failed ? { err: new Error(`failed with status code ${res.statusCode}`) } : {}),
    },
    failed ? 'request errored' : 'request completed',
  );
}
