import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small model-serving API for the shipped `model-rollback` runbook, on loopback: the shape the
 * runbook documents (GET /v1/models/NAME → {version, previous_version}; POST
 * /v1/models/NAME/active {version}; GET /v1/models/NAME/metrics → {error_rate}), behind a bearer
 * token. Users never run this: it stands in for their serving layer (KServe, Seldon, a
 * home-grown router), so the tests can watch what the runbook did to it.
 */
export interface ModelServer {
  url: string;
  token: string;
  /** The model's state as the serving layer sees it now. */
  model(name: string): { version: string; previous_version: string | null };
  /** Every request, in order: method, path, whether the token matched, and the JSON body. */
  requests: Array<{ method: string; path: string; authorized: boolean; body: unknown }>;
  close(): Promise<void>;
}

export interface ModelSpec {
  version: string;
  previous_version: string | null;
  /** Error rate per version: what /metrics reports while that version is active. */
  errorRates: Record<string, number>;
}

export async function startModelServer(
  models: Record<string, ModelSpec>,
  token = 'serving-token-0123456789abcdef',
): Promise<ModelServer> {
  const state = new Map(Object.entries(models).map(([k, v]) => [k, { ...v }]));
  const requests: ModelServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readJson(req);
      const authorized = req.headers.authorization === `Bearer ${token}`;
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push({ method: req.method ?? 'GET', path, authorized, body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (!authorized) return reply(401, { error: 'bad or missing token' });
      const m = /^\/v1\/models\/([^/]+)(\/active|\/metrics)?$/.exec(path);
      const model = m ? state.get(decodeURIComponent(m[1]!)) : undefined;
      if (!m || !model) return reply(404, { error: 'no such model' });
      if (!m[2] && req.method === 'GET')
        return reply(200, { version: model.version, previous_version: model.previous_version });
      if (m[2] === '/metrics' && req.method === 'GET')
        return reply(200, { error_rate: model.errorRates[model.version] ?? 0 });
      if (m[2] === '/active' && req.method === 'POST') {
        const version = (body as { version?: unknown } | null)?.version;
        if (typeof version !== 'string' || !(version in model.errorRates))
          return reply(400, { error: `unknown version ${JSON.stringify(version)}` });
        model.previous_version = model.version;
        model.version = version;
        return reply(200, { version });
      }
      return reply(405, { error: 'method not allowed' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    model(name) {
      const m = state.get(name)!;
      return { version: m.version, previous_version: m.previous_version };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (!chunks.length) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}
