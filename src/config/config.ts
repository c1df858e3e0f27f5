import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one typed configuration object. It is read from the environment exactly once, at start-up
 * (`loadConfig`); nothing else in Firebreak reads `process.env`.
 */
export type Role = 'api' | 'worker' | 'all';

export interface AppConfig {
  port: number;
  host: string;
  role: Role;
  publicUrl: string;
  dataDir: string;
  /** Unset: an embedded Postgres is started under `dataDir/pg`. */
  databaseUrl: string | undefined;
  /** Port for the embedded Postgres; 0 picks a free one. */
  embeddedPostgresPort: number;
  redisUrl: string | undefined;
  /** Key material for signing sessions and encrypting credentials; at least 32 characters. */
  secretKey: string;
  /** Where the secret key came from, for the start-up log line (never the key itself). */
  secretKeySource: 'env' | 'generated' | 'file';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logPretty: boolean;
  jwtTtlSeconds: number;
  bodyLimitBytes: number;
  adminPassword: string | undefined;
  loginMaxAttempts: number;
  loginWindowSeconds: number;
  /** Lifetime of an API token created without `expiresAt`, and the longest one may ask for. */
  tokenDefaultTtlSeconds: number;
  tokenMaxTtlSeconds: number;
  runbooksDir: string;
  trustProxy: boolean;
  /** Browser origins allowed to call the API cross-origin (CORS); empty: none. */
  corsOrigins: string[];
  /** Hosts (globs) http steps may reach; empty: any host not refused by the egress policy. */
  httpAllowHosts: string[];
  /** Executions one worker process runs at once. */
  workerConcurrency: number;
  /** SSH commands in flight at once across a worker process (all executions). */
  sshMaxParallel: number;
  /** A running execution whose worker has not reported for this long is marked interrupted. */
  heartbeatTimeoutSeconds: number;
  /**
   * SIGTERM/SIGINT on a worker: how long its running executions get to finish before the worker
   * interrupts what is left (recorded `interrupted`, results kept) and exits.
   */
  drainGraceSeconds: number;
  /** Whether the built-in `localhost` node (the Firebreak host, run through the local executor) exists. */
  localNode: boolean;
  /** When the service runs as root: the unprivileged system user local commands run as. */
  localRunUser: string;
  /**
   * How local commands start: `helper` (default) from a small long-lived process, so the
   * worker's own fork (synchronous, costing with its memory) never stalls it; `inline` by
   * forking the worker itself.
   */
  localSpawner: 'helper' | 'inline';
  /**
   * How long a worker keeps a run going while the database is unreachable (output buffered,
   * writes retried); past it the run is stopped and recorded as failed once the database is back.
   */
  dbOutageLimitSeconds: number;
  /** Output (stdout + stderr) one execution may store; a runbook's `logLimit` can only lower it. */
  logMaxLines: number;
  logMaxBytes: number;
  /** Past the limit: truncate (store no more, say so in a system line) or fail the run. */
  logLimitAction: 'truncate' | 'fail';
  /** Finished executions (with their logs and results) older than this are pruned; null: never. */
  retentionExecutionsSeconds: number | null;
  /** How often the retention job runs. */
  retentionIntervalSeconds: number;
  /** Executions pruned per batch (and log rows per DELETE: 10×). */
  retentionBatch: number;
  /** The change-freeze file (default: freezes.yaml in the runbooks directory). */
  freezesFile: string;
  /** How often each api process looks for due schedule fires, in ms; null: never (tests drive it). */
  schedulerTickMs: number | null;
  /** Slack (docs/slack.md): off unless the signing secret is set. */
  slack: SlackConfig;
}

export interface SlackConfig {
  /** Verifies every request from Slack; unset: the /slack routes answer 404. */
  signingSecret: string | undefined;
  /** For chat.postMessage, chat.update and users.info; unset: nothing is posted to channels. */
  botToken: string | undefined;
  /** Slack's Web API base URL (a stand-in's in tests). */
  apiUrl: string;
  /** Where `response_url`s may point: host names (https only) or exact http(s) origins. */
  responseUrlHosts: string[];
  /** Channel (id) approval requests are posted to, with Approve / Reject buttons. */
  approvalsChannel: string | undefined;
  /** Per runbook: the channel its approval requests go to instead. */
  runbookApprovalChannels: Record<string, string>;
  /** Channel (id) incident timeline events are posted to. */
  incidentChannel: string | undefined;
  /** Whether an unlinked Slack user whose verified e-mail matches a user's is linked to them. */
  emailLinking: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const SIZE_RE = /^(\d+)\s*(b|kb|mb|gb)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

const port = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `expected ${what}: an integer 0-65535`)
    .transform(Number)
    .refine((n) => n >= 0 && n <= 65535, `expected ${what}: an integer 0-65535`);

const positiveInt = (what: string) =>
  z
    .string()
    .regex(/^[1-9]\d*$/, `expected ${what}: a positive integer`)
    .transform(Number);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => ['true', '1', 'yes'].includes(v));

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

/** Every variable Firebreak reads, with its rule and default. The README's table follows this. */
/** A comma-separated list whose every (trimmed, non-empty) item must match `pattern`. */
function commaList(pattern: RegExp, message: string, opts: { lowerCase?: boolean } = {}) {
  return z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((item) => (opts.lowerCase ? item.trim().toLowerCase() : item.trim()))
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(pattern, message)));
}

const envSchema = z.object({
  PORT: port('the HTTP port').prefault('3000'),
  HOST: z.string().min(1).prefault('127.0.0.1'),
  ROLE: z
    .enum(['api', 'worker', 'all'], { error: 'expected one of api, worker, all' })
    .prefault('all'),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  DATA_DIR: z.string().min(1).prefault('./.data'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  EMBEDDED_POSTGRES_PORT: port('the embedded Postgres port (0 = any free port)').prefault('0'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  SECRET_KEY: z.string().min(32, 'expected at least 32 characters').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'expected one of fatal, error, warn, info, debug, trace, silent',
    })
    .prefault('info'),
  LOG_PRETTY: bool.optional(),
  JWT_TTL: z
    .string()
    .regex(/^\d+[smh]?$/, 'expected a duration such as 900, 900s, 15m or 12h')
    .prefault('15m'),
  BODY_LIMIT: z
    .string()
    .regex(SIZE_RE, 'expected a size such as 1mb, 512kb or 1048576')
    .prefault('1mb'),
  FIREBREAK_ADMIN_PASSWORD: z.string().min(12, 'expected at least 12 characters').optional(),
  LOGIN_MAX_ATTEMPTS: positiveInt('the failed logins allowed per window').prefault('5'),
  LOGIN_WINDOW: positiveInt('the login rate-limit window in seconds').prefault('300'),
  TOKEN_DEFAULT_TTL: z
    .string()
    .regex(/^\d+[smhd]?$/, 'expected a duration such as 3600, 12h or 30d')
    .prefault('30d'),
  TOKEN_MAX_TTL: z
    .string()
    .regex(/^\d+[smhd]?$/, 'expected a duration such as 3600, 12h or 365d')
    .prefault('365d'),
  RUNBOOKS_DIR: z.string().min(1).prefault('./runbooks'),
  TRUST_PROXY: bool.prefault('false'),
  HTTP_ALLOW_HOSTS: commaList(
    /^[a-z0-9*.:-]+$/,
    'expected comma-separated host names or globs such as *.internal.example.com',
    { lowerCase: true },
  ).prefault(''),
  CORS_ORIGINS: commaList(
    /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i,
    'expected comma-separated origins such as https://console.example.com (scheme, host, optional port; never null or *)',
  ).prefault(''),
  WORKER_CONCURRENCY: positiveInt('executions run at once per worker').prefault('4'),
  SSH_MAX_PARALLEL: positiveInt('SSH commands (and SSH handshakes) in flight per worker').prefault(
    '100',
  ),
  HEARTBEAT_TIMEOUT: positiveInt(
    'seconds before a silent worker’s executions are interrupted',
  ).prefault('60'),
  DRAIN_GRACE: z
    .string()
    .regex(/^\d+$/, 'expected seconds running executions get to finish on shutdown: an integer ≥ 0')
    .transform(Number)
    .prefault('25'),
  LOCAL_NODE: bool.prefault('true'),
  LOCAL_RUN_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,30}$/, 'expected a system user name such as firebreak-run')
    .refine((v) => v !== 'root', 'expected an unprivileged user, not root')
    .prefault('firebreak-run'),
  LOCAL_SPAWNER: z
    .enum(['helper', 'inline'], { error: 'expected helper or inline' })
    .prefault('helper'),
  DB_OUTAGE_LIMIT: positiveInt('seconds a run goes on while the database is unreachable').prefault(
    '300',
  ),
  LOG_MAX_LINES: positiveInt('output lines stored per execution').prefault('1000000'),
  LOG_MAX_BYTES: z
    .string()
    .regex(SIZE_RE, 'expected a size such as 256mb, 512kb or 1048576')
    .prefault('256mb'),
  LOG_LIMIT_ACTION: z
    .enum(['truncate', 'fail'], { error: 'expected truncate or fail' })
    .prefault('truncate'),
  RETENTION_EXECUTIONS: z
    .string()
    .regex(/^(off|[1-9]\d*[smhd]?)$/, 'expected an age such as 90d, 12h or 3600, or off')
    .prefault('90d'),
  RETENTION_INTERVAL: z
    .string()
    .regex(/^[1-9]\d*[smhd]?$/, 'expected a duration such as 1h, 15m or 60')
    .prefault('1h'),
  RETENTION_BATCH: positiveInt('executions pruned per batch').prefault('100'),
  SLACK_SIGNING_SECRET: z.string().min(16, 'expected at least 16 characters').optional(),
  SLACK_SIGNING_SECRET_FILE: z.string().min(1).optional(),
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xox[a-z]-\S+$/, 'expected a bot token (xoxb-…)')
    .optional(),
  SLACK_BOT_TOKEN_FILE: z.string().min(1).optional(),
  SLACK_API_URL: url(['http:', 'https:']).prefault('https://slack.com/api'),
  SLACK_RESPONSE_URL_HOSTS: commaList(
    /^(https?:\/\/[a-z0-9.-]+(:\d{1,5})?|[a-z0-9.-]+)$/,
    'expected comma-separated host names (https) or origins such as http://127.0.0.1:8080',
    { lowerCase: true },
  ).prefault('hooks.slack.com'),
  SLACK_APPROVALS_CHANNEL: z
    .string()
    .regex(/^[A-Z0-9]{2,32}$/, 'expected a channel id such as C0123ABCD')
    .optional(),
  SLACK_RUNBOOK_APPROVAL_CHANNELS: commaList(
    /^[a-z0-9][a-z0-9-]{1,62}=[A-Z0-9]{2,32}$/,
    'expected comma-separated runbook=CHANNEL_ID pairs such as restart-service=C0123ABCD',
  ).prefault(''),
  SLACK_INCIDENT_CHANNEL: z
    .string()
    .regex(/^[A-Z0-9]{2,32}$/, 'expected a channel id such as C0123ABCD')
    .optional(),
  SLACK_EMAIL_LINKING: bool.prefault('false'),
  FREEZES_FILE: z.string().min(1).optional(),
  SCHEDULER_TICK: z
    .string()
    .regex(/^(off|[1-9]\d*(ms|s))$/, 'expected an interval such as 5s or 500ms, or off')
    .prefault('5s'),
});

type Env = Record<string, string | undefined>;

function durationSeconds(v: string): number {
  const n = Number.parseInt(v, 10);
  if (v.endsWith('d')) return n * 86400;
  if (v.endsWith('h')) return n * 3600;
  if (v.endsWith('m')) return n * 60;
  return n;
}

function sizeBytes(v: string): number {
  const m = SIZE_RE.exec(v.trim())!;
  return Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()];
}

/**
 * Parses and validates the environment. Throws a ConfigError naming every bad variable and what
 * it expected; never returns a half-valid config. Pure apart from `secretKeyFor` (see below).
 */
export function parseEnv(
  env: Env,
  cwd = process.cwd(),
): Omit<AppConfig, 'secretKey' | 'secretKeySource'> & {
  secretKey: string | undefined;
} {
  // Empty strings count as unset, as in most twelve-factor services.
  const cleaned: Env = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const name = String(i.path[0]);
      const got = cleaned[name];
      const shown =
        name === 'SECRET_KEY' ||
        name.endsWith('PASSWORD') ||
        /^SLACK_(SIGNING_SECRET|BOT_TOKEN)$/.test(name)
          ? '(hidden)'
          : JSON.stringify(got);
      return `${name}=${shown}: ${i.message}`;
    });
    throw new ConfigError(problems);
  }
  const e = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const jwtTtl = durationSeconds(e.JWT_TTL);
  if (jwtTtl < 60 || jwtTtl > 24 * 3600) {
    throw new ConfigError([`JWT_TTL=${JSON.stringify(e.JWT_TTL)}: expected between 1m and 24h`]);
  }
  const tokenDefaultTtl = durationSeconds(e.TOKEN_DEFAULT_TTL);
  const tokenMaxTtl = durationSeconds(e.TOKEN_MAX_TTL);
  const tokenTtlProblems = [
    ...(tokenMaxTtl < 60
      ? [`TOKEN_MAX_TTL=${JSON.stringify(e.TOKEN_MAX_TTL)}: expected 1m or more`]
      : []),
    ...(tokenDefaultTtl < 60 || tokenDefaultTtl > tokenMaxTtl
      ? [
          `TOKEN_DEFAULT_TTL=${JSON.stringify(e.TOKEN_DEFAULT_TTL)}: expected between 1m and TOKEN_MAX_TTL (${e.TOKEN_MAX_TTL})`,
        ]
      : []),
  ];
  if (tokenTtlProblems.length > 0) throw new ConfigError(tokenTtlProblems);
  return {
    port: e.PORT,
    host: e.HOST,
    role: e.ROLE,
    publicUrl: (
      e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? 'localhost' : e.HOST}:${e.PORT}`
    ).replace(/\/$/, ''),
    dataDir: abs(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT,
    redisUrl: e.REDIS_URL,
    secretKey: e.SECRET_KEY,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY ?? false,
    jwtTtlSeconds: jwtTtl,
    bodyLimitBytes: sizeBytes(e.BODY_LIMIT),
    adminPassword: e.FIREBREAK_ADMIN_PASSWORD,
    loginMaxAttempts: e.LOGIN_MAX_ATTEMPTS,
    loginWindowSeconds: e.LOGIN_WINDOW,
    tokenDefaultTtlSeconds: tokenDefaultTtl,
    tokenMaxTtlSeconds: tokenMaxTtl,
    runbooksDir: abs(e.RUNBOOKS_DIR),
    trustProxy: e.TRUST_PROXY,
    corsOrigins: e.CORS_ORIGINS,
    httpAllowHosts: e.HTTP_ALLOW_HOSTS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    sshMaxParallel: e.SSH_MAX_PARALLEL,
    heartbeatTimeoutSeconds: e.HEARTBEAT_TIMEOUT,
    drainGraceSeconds: e.DRAIN_GRACE,
    localNode: e.LOCAL_NODE,
    localRunUser: e.LOCAL_RUN_USER,
    localSpawner: e.LOCAL_SPAWNER,
    dbOutageLimitSeconds: e.DB_OUTAGE_LIMIT,
    logMaxLines: e.LOG_MAX_LINES,
    logMaxBytes: sizeBytes(e.LOG_MAX_BYTES),
    logLimitAction: e.LOG_LIMIT_ACTION,
    retentionExecutionsSeconds:
      e.RETENTION_EXECUTIONS === 'off' ? null : durationSeconds(e.RETENTION_EXECUTIONS),
    retentionIntervalSeconds: durationSeconds(e.RETENTION_INTERVAL),
    retentionBatch: e.RETENTION_BATCH,
    slack: {
      signingSecret: secretFrom(
        e.SLACK_SIGNING_SECRET,
        e.SLACK_SIGNING_SECRET_FILE,
        'SLACK_SIGNING_SECRET',
        abs,
      ),
      botToken: secretFrom(e.SLACK_BOT_TOKEN, e.SLACK_BOT_TOKEN_FILE, 'SLACK_BOT_TOKEN', abs),
      apiUrl: e.SLACK_API_URL.replace(/\/$/, ''),
      responseUrlHosts: e.SLACK_RESPONSE_URL_HOSTS,
      approvalsChannel: e.SLACK_APPROVALS_CHANNEL,
      runbookApprovalChannels: Object.fromEntries(
        e.SLACK_RUNBOOK_APPROVAL_CHANNELS.map((p) => p.split('=') as [string, string]),
      ),
      incidentChannel: e.SLACK_INCIDENT_CHANNEL,
      emailLinking: e.SLACK_EMAIL_LINKING,
    },
    freezesFile: e.FREEZES_FILE ? abs(e.FREEZES_FILE) : join(abs(e.RUNBOOKS_DIR), 'freezes.yaml'),
    schedulerTickMs:
      e.SCHEDULER_TICK === 'off'
        ? null
        : Number.parseInt(e.SCHEDULER_TICK, 10) * (e.SCHEDULER_TICK.endsWith('ms') ? 1 : 1000),
  };
}

/** A secret from its variable, or from the file `NAME_FILE` names (not both); never echoed. */
function secretFrom(
  value: string | undefined,
  file: string | undefined,
  name: string,
  abs: (p: string) => string,
): string | undefined {
  if (value && file) throw new ConfigError([`${name}: set ${name} or ${name}_FILE, not both`]);
  if (!file) return value;
  let text: string;
  try {
    text = readFileSync(abs(file), 'utf8').trim();
  } catch (err) {
    throw new ConfigError([
      `${name}_FILE=${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  if (!text) throw new ConfigError([`${name}_FILE=${JSON.stringify(file)}: the file is empty`]);
  return text;
}

/**
 * The secret key: SECRET_KEY when set; otherwise the key kept in DATA_DIR/secret.key (0600),
 * generated on the first start. A team deployment (DATABASE_URL set) must set SECRET_KEY so
 * every process shares it.
 */
export function resolveSecretKey(
  parsed: ReturnType<typeof parseEnv>,
): Pick<AppConfig, 'secretKey' | 'secretKeySource'> {
  if (parsed.secretKey) return { secretKey: parsed.secretKey, secretKeySource: 'env' };
  if (parsed.databaseUrl) {
    throw new ConfigError([
      'SECRET_KEY: required when DATABASE_URL is set (every api and worker process must share it); generate one with `openssl rand -base64 48`',
    ]);
  }
  secureDataDir(parsed.dataDir);
  const file = join(parsed.dataDir, 'secret.key');
  if (existsSync(file)) {
    restrictMode(file, 0o600);
    const key = readFileSync(file, 'utf8').trim();
    if (key.length < 32)
      throw new ConfigError([`SECRET_KEY: ${file} holds fewer than 32 characters`]);
    return { secretKey: key, secretKeySource: 'file' };
  }
  const key = randomBytes(48).toString('base64url');
  writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { secretKey: key, secretKeySource: 'generated' };
}

/**
 * DATA_DIR holds the secret key and the database password: only the service user may enter it
 * (0700; the embedded Postgres, when it runs as its own user, is let through with 0710 and its
 * group). Local commands run as another user when the service is root, so this is what keeps
 * `cat DATA_DIR/secret.key` in a runbook from working.
 */
export function secureDataDir(dataDir: string, mode = 0o700): void {
  mkdirSync(dataDir, { recursive: true, mode });
  restrictMode(dataDir, mode);
}

/** chmod, for files we own; a file someone else owns keeps its mode (not ours to change). */
export function restrictMode(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
  }
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): AppConfig {
  const parsed = parseEnv(env, cwd);
  return { ...parsed, ...resolveSecretKey(parsed) };
}

/** Injection token for the AppConfig object. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injection token for the resolved database URL (DATABASE_URL or the embedded server's). */
export const DATABASE_URL = Symbol('DATABASE_URL');
