import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { hookLane } from './alerts/hook-lane.js';
import { HooksController } from './alerts/hooks.controller.js';
import { validationFailed } from './common/errors.js';
import { AllExceptionsFilter } from './common/exception.filter.js';
import { consoleMiddleware } from './console/console-assets.js';
import { requestId } from './common/request-id.js';
import { UNSTORABLE_MESSAGE, unstorablePath } from './common/storable.js';
import { createValidationPipe } from './common/validation.js';
import { MetricsService } from './observability/metrics.service.js';

/**
 * Builds the HTTP application (not yet listening). main.ts and the end-to-end tests both use it,
 * so tests exercise exactly what runs in production.
 */
export async function createApp(options: AppModuleOptions): Promise<NestExpressApplication> {
  const { config } = options;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bufferLogs: true,
    // Throw instead of exiting, so main.ts can stop the embedded database on a failed start.
    abortOnError: false,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');

  const filter = new AllExceptionsFilter();
  // Alert webhooks are read raw, whatever their content type: signatures are over the exact
  // bytes received (hooks.controller.ts parses them). The parsers below skip a parsed body.
  const hooksRaw = express.raw({ type: () => true, limit: config.bodyLimitBytes });
  // A POST to a hook URL is answered ahead of everything else (hook-lane.ts says what it does).
  if (config.role !== 'worker')
    app.use(
      hookLane({
        hooks: app.get(HooksController),
        raw: hooksRaw,
        metrics: app.get(MetricsService),
        filter,
      }),
    );
  app.use(requestId);
  // Security headers on every response: a CSP that allows only this origin's scripts (no inline
  // script) and connections, no framing (clickjacking), nosniff, no referrer, HSTS. The console
  // and Swagger UI at /api/docs fit in it (styles may be inline: the component library sets
  // CSS variables and style attributes; scripts may not).
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'connect-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:'],
          'font-src': ["'self'", 'data:'],
          'object-src': ["'none'"],
          'base-uri': ["'self'"],
          'frame-ancestors': ["'none'"],
          'form-action': ["'self'"],
          // Over plain http (a first local start) upgrading the console's own requests breaks it.
          'upgrade-insecure-requests': config.publicUrl.startsWith('https:') ? [] : null,
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  // Cross-origin browser calls only from the origins CORS_ORIGINS lists (exact match), never
  // from `null` (sandboxed frames, file://: StackStorm's CVE-2019-9580) or a reflected origin.
  app.enableCors({
    origin: (origin, cb) =>
      cb(null, origin !== undefined && config.corsOrigins.includes(origin) ? origin : false),
    credentials: false,
    maxAge: 600,
  });
  app.use(app.get(MetricsService).middleware());
  if (config.role === 'worker') {
    // A worker runs executions from the queue; over HTTP it answers only health and metrics.
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (req.path === '/health' || req.path === '/metrics') return next();
      res.status(404).json({
        code: 'NOT_FOUND',
        message: `this is a worker process (ROLE=worker): it serves only /health and /metrics; send ${req.method} ${req.path} to an api process`,
        requestId: (req as Request & { id?: string }).id ?? null,
      });
    });
  }
  app.use('/hooks', hooksRaw);
  // Slack signs the exact bytes it sends: /slack/* keeps the raw body (a Buffer) for the check.
  app.use('/slack', express.raw({ type: () => true, limit: config.bodyLimitBytes }));
  // The web console's assets, and its index.html for browser navigations (console-assets.ts).
  if (config.role !== 'worker') app.use(...consoleMiddleware());
  app.use(express.json({ limit: config.bodyLimitBytes, strict: true }));
  // Runbooks are sent as YAML.
  app.use(
    express.text({
      type: ['application/yaml', 'application/x-yaml', 'text/yaml'],
      limit: config.bodyLimitBytes,
    }),
  );
  app.use(express.urlencoded({ limit: config.bodyLimitBytes, extended: false }));
  // A string Postgres cannot store, anywhere in a parsed body: a 400 naming it, not a 500 from
  // the database (storable.ts). Raw bodies (/hooks, /slack) are Buffers, checked where parsed.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const path = unstorablePath(req.body);
    if (path === null) return next();
    filter.respond(validationFailed([{ path, message: UNSTORABLE_MESSAGE }]), req, res);
  });
  // Body-parser errors (malformed JSON, too large) get the same JSON error body as the rest.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    filter.respond(err, req, res);
  });
  app.useGlobalFilters(filter);
  app.useGlobalPipes(createValidationPipe());

  const document = buildOpenApi(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}

/** OpenAPI for every route; each operation states its auth (bearer, or none for public routes). */
export function buildOpenApi(app: NestExpressApplication): OpenAPIObject {
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Firebreak')
      .setDescription(
        'Runbook automation and incident response. Authenticate with `Authorization: Bearer <token>`: a session token from POST /auth/login or a personal API token (fbk_…).',
      )
      .setVersion('0.1.0')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        description: 'Session JWT or API token (fbk_…)',
      })
      .build(),
  );
  for (const path of Object.values(doc.paths)) {
    for (const op of Object.values(path) as Array<{ security?: unknown[]; 'x-public'?: boolean }>) {
      if (typeof op !== 'object' || op === null) continue;
      if (op['x-public']) op.security = [];
      else op.security = [{ bearer: [] }];
    }
  }
  return doc;
}
