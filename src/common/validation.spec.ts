import { ValidationError } from 'class-validator';
import { fieldProblems } from './validation.js';

const err = (
  property: string,
  constraints?: Record<string, string>,
  children: ValidationError[] = [],
) => Object.assign(new ValidationError(), { property, constraints, children });

describe('fieldProblems', () => {
  it('names nested fields and array items by path', () => {
    const problems = fieldProblems([
      err('username', { matches: 'username must be lower-case' }),
      err('roles', undefined, [err('1', { isIn: '1 must be one of viewer, admin' })]),
      err('target', undefined, [
        err('nodes', undefined, [
          err('0', undefined, [err('name', { isString: 'name must be a string' })]),
        ]),
      ]),
    ]);
    expect(problems).toEqual([
      { path: 'username', message: 'must be lower-case' },
      { path: 'roles[1]', message: 'must be one of viewer, admin' },
      { path: 'target.nodes[0].name', message: 'must be a string' },
    ]);
  });
});
