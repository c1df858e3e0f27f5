import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials, writeCredentials } from './credentials.js';
import { CliError, describeHttpError, exitCodeForStatus } from './errors.js';
import { parseExpiry } from './login.js';
import { table, type Out } from './output.js';

describe('exit codes from HTTP statuses', () => {
  it.each([
    [400, 2],
    [401, 3],
    [403, 3],
    [404, 4],
    [409, 5],
    [423, 5],
    [429, 5],
    [500, 6],
    [503, 6],
  ])('%i → %i', (status, code) => expect(exitCodeForStatus(status)).toBe(code));

  it('lists every field problem when there are several', () => {
    const text = describeHttpError(400, {
      code: 'VALIDATION_FAILED',
      message: 'title: required; severity: must be one of SEV1',
      details: [
        { path: 'title', message: 'required' },
        { path: 'severity', message: 'must be one of SEV1' },
      ],
    });
    expect(text.split('\n')).toEqual([
      '400 VALIDATION_FAILED: title: required; severity: must be one of SEV1',
      '  title: required',
      '  severity: must be one of SEV1',
    ]);
  });
});

describe('--expires', () => {
  const now = Date.parse('2026-12-01T00:00:00Z');
  it('takes durations and ISO times', () => {
    expect(parseExpiry('90m', now)).toBe('2026-12-01T01:30:00.000Z');
    expect(parseExpiry('30d', now)).toBe('2026-12-31T00:00:00.000Z');
    expect(parseExpiry('2027-01-02T03:04:05Z', now)).toBe('2027-01-02T03:04:05.000Z');
  });
  it('refuses anything else, naming the flag', () => {
    expect(() => parseExpiry('soon', now)).toThrow(/--expires soon: expected a duration/);
  });
});

describe('the credentials file', () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'fb-cred-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('is written 0600 in a 0700 directory, and refused once others may read it', () => {
    const env = { XDG_CONFIG_HOME: home };
    const path = writeCredentials(env, { current: 'http://x', servers: {} });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'firebreak')).mode & 0o777).toBe(0o700);
    expect(readCredentials(env).current).toBe('http://x');
    chmodSync(path, 0o640);
    const err = (() => {
      try {
        readCredentials(env);
      } catch (e) {
        return e as CliError;
      }
    })();
    expect(err).toBeInstanceOf(CliError);
    expect(err?.exitCode).toBe(3);
    expect(err?.message).toContain('mode 0640');
  });
});

describe('tables', () => {
  it('aligns columns under their headers, colours only when asked', () => {
    let text = '';
    const out: Out = { json: false, color: false, write: (s) => (text += s) };
    table(
      out,
      [
        { a: 'x', b: 'succeeded', c: 'last' },
        { a: 'longer-name', b: 'failed', c: null },
      ],
      [
        ['NAME', (r) => r.a],
        ['STATUS', (r) => r.b, true],
        ['NOTE', (r) => r.c],
      ],
    );
    expect(text.split('\n')).toEqual([
      'NAME         STATUS     NOTE',
      'x            succeeded  last',
      'longer-name  failed     -',
      '',
    ]);
    text = '';
    table({ ...out, color: true }, [{ b: 'failed' }], [['STATUS', (r) => r.b, true]]);
    expect(text).toContain('\u001b[31mfailed\u001b[0m');
  });
});
