import { installProcessHandlers, redactError } from './process-handlers.js';

describe('process-level handlers', () => {
  const logged: Array<{ level: string; msg: string; err: unknown }> = [];
  const log = {
    warn: (o: { err?: unknown }, msg: string) => logged.push({ level: 'warn', msg, err: o.err }),
    error: (o: { err?: unknown }, msg: string) => logged.push({ level: 'error', msg, err: o.err }),
    fatal: (o: { err?: unknown }, msg: string) => logged.push({ level: 'fatal', msg, err: o.err }),
  };
  let exits: number[];
  let uninstall: () => void;
  beforeEach(() => {
    logged.length = 0;
    exits = [];
    uninstall = installProcessHandlers(log, (code) => exits.push(code));
  });
  afterEach(() => uninstall());

  it('a lost database connection is logged and survived, whether rejected or thrown', async () => {
    process.emit(
      'unhandledRejection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Promise.resolve(),
    );
    process.emit(
      'uncaughtException',
      Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    expect(logged.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(exits).toEqual([]);
  });

  it('any other rejection is logged as an error and the process goes on', async () => {
    process.emit('unhandledRejection', new TypeError('x is not a function'), Promise.resolve());
    await new Promise((r) => setTimeout(r, 150));
    expect(logged).toMatchObject([
      { level: 'error', err: { name: 'TypeError', message: 'x is not a function' } },
    ]);
    expect(exits).toEqual([]);
  });

  it('an uncaught exception that is not a connection error is fatal: logged, then exit 1', async () => {
    process.emit('uncaughtException', new RangeError('corrupted'));
    await new Promise((r) => setTimeout(r, 150));
    expect(logged).toMatchObject([{ level: 'fatal' }]);
    expect(exits).toEqual([1]);
  });

  it('never logs the password of a connection string', () => {
    const err = redactError(
      new Error('could not connect to postgres://firebreak:s3cr3t-pw@db:5432/x'),
    );
    expect(err.message).toBe('could not connect to postgres://firebreak:****@db:5432/x');
    expect(JSON.stringify(err)).not.toContain('s3cr3t-pw');
  });
});
