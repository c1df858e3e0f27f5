import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { validationFailed, type FieldProblem } from './errors.js';

/** Flattens class-validator's tree into `path: message` pairs, e.g. `roles[1]: each value must be…`. */
export function fieldProblems(errors: ValidationError[], parent = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const path = /^\d+$/.test(e.property)
      ? `${parent}[${e.property}]`
      : parent
        ? `${parent}.${e.property}`
        : e.property;
    for (const message of Object.values(e.constraints ?? {})) {
      out.push({ path, message: message.replace(new RegExp(`^${e.property} `), '') });
    }
    if (e.children?.length) out.push(...fieldProblems(e.children, path));
  }
  return out;
}

/**
 * Strict input: unknown fields are errors (named), types are checked, and nothing reaches a
 * handler half-validated.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(fieldProblems(errors)),
  });
}
