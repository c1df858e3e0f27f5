import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';

/**
 * The web console (console/, built by Vite into console/dist) served at `/`. The API stays where
 * it is: a GET that is a browser navigation (Sec-Fetch-Mode: navigate, or an Accept header that
 * prefers text/html over JSON) answers the SPA's index.html, so `/executions/:id` is both an API
 * object and its console page; API clients (Accept: application/json or * /*, the CLI, the
 * console's own fetches) get JSON exactly as before. Hashed assets are cached for a year,
 * index.html never. docs/console.md.
 */

/** Paths that stay the server's own even for a browser navigation (webhooks, Slack's redirects). */
const NOT_THE_CONSOLE = /^\/(api\/docs|api\/docs-json|health|metrics|hooks|slack)(\/|$)/;

/** The repository root: the nearest directory above this file with a package.json. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('firebreak: no package.json above the service code');
    dir = up;
  }
  return dir;
}

export function consoleDir(): string {
  return join(projectRoot(), 'console', 'dist');
}

/** A browser navigation (a page load), not a script's fetch or an API client. */
export function isNavigation(req: Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const accept = req.headers.accept;
  if (!accept) return false;
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}

/**
 * Express middleware for the console's assets and the SPA fallback. Without a built console
 * (console/dist/index.html), navigations get a short page saying how to build it.
 */
export function consoleMiddleware(dir = consoleDir()): RequestHandler[] {
  const index = join(dir, 'index.html');
  const assets = express.static(dir, {
    immutable: true,
    maxAge: '365d',
    index: false,
  });
  const files = express.static(dir, { index: false, maxAge: '1h' });
  // Read per navigation (it is small), so a rebuild is picked up without a restart.
  const page = (): Buffer | undefined => (existsSync(index) ? readFileSync(index) : undefined);
  const fallback = (req: Request, res: Response, next: NextFunction) => {
    if (!isNavigation(req) || NOT_THE_CONSOLE.test(req.path)) return next();
    const body = page();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Vary', 'Accept, Sec-Fetch-Mode');
    if (!body) {
      res
        .status(503)
        .type('text/plain')
        .send(
          'The web console is not built: run `npm run build` (or `npm start`, which builds it).\n',
        );
      return;
    }
    res.status(200).type('html').send(body);
  };
  return [
    (req, res, next) => (req.path.startsWith('/assets/') ? assets(req, res, next) : next()),
    fallback,
    (req, res, next) =>
      req.method === 'GET' && /^\/[\w.-]+\.(svg|png|ico|txt|webmanifest)$/.test(req.path)
        ? files(req, res, next)
        : next(),
  ];
}
