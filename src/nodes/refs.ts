import { validationFailed } from '../common/errors.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path parameter that names a record by id or by name: anything else is a 400. */
export function checkRef(ref: string, nameRe: RegExp, what: string): string {
  if (UUID_RE.test(ref) || nameRe.test(ref)) return ref;
  throw validationFailed([{ path: 'ref', message: `not a ${what} id or name` }]);
}
