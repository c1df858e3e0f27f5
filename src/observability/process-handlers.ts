import { isConnectionError } from '../database/db-retry.js';

interface Log {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

/** Credentials in connection strings (`postgres://user:secret@host`) never reach the log. */
export function redactError(error: unknown): { name: string; message: string; code?: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  const scrub = (s: string) =>
    s.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1****@');
  const code = (e as { code?: unknown }).code;
  return {
    name: e.name,
    message: scrub(e.message),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/**
 * The last line of defence for errors nobody handled. A lost database connection (a restart, an
 * idle client's error event) is survived: it is logged and the retrying callers carry on. Any
 * other unhandled rejection is logged as an error and the process goes on (the promise's work is
 * lost, its state is not corrupted). An uncaught exception that is not a connection error leaves
 * the process in an unknown state: logged as fatal, then exit 1 so a supervisor restarts it.
 * Messages are logged without stacks' local values or connection-string passwords.
 */
export function installProcessHandlers(log: Log, exit: (code: number) => void = process.exit) {
  const onRejection = (reason: unknown) => {
    const err = redactError(reason);
    if (isConnectionError(reason))
      log.warn({ err }, 'database unreachable (unhandled); carrying on');
    else log.error({ err }, 'unhandled promise rejection; carrying on');
  };
  const onException = (error: unknown) => {
    const err = redactError(error);
    if (isConnectionError(error)) {
      log.warn({ err }, 'database unreachable (uncaught); carrying on');
      return;
    }
    log.fatal({ err }, 'uncaught exception: exiting');
    // Give the log a moment to reach its destination.
    setTimeout(() => exit(1), 100);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
