import { hoistRoutes, type RouterLayer } from './hoist-routes.js';

const route = (
  path: string,
  matches: (p: string) => boolean = () => false,
): RouterLayer & { name: string } => ({
  name: path,
  route: { path },
  match: matches,
});
const middleware = (name: string): RouterLayer & { name: string } => ({ name, match: () => true });
const names = (stack: Array<{ name: string }>) => stack.map((l) => l.name);
const SAMPLE = ['/hooks/a/1'];

describe('hoistRoutes', () => {
  it('moves the hot routes to just after the last middleware, keeping their order', () => {
    const stack = [
      middleware('requestId'),
      middleware('logger'),
      route('/health'),
      route('/users/:id'),
      route('/hooks/a/:id', (p) => p.startsWith('/hooks/a/')),
      route('/hooks/b/:id'),
      route('/schedules'),
      middleware('notFound'),
    ];
    expect(hoistRoutes(stack, '/hooks/', SAMPLE)).toBe(2);
    expect(names(stack)).toEqual([
      'requestId',
      'logger',
      '/hooks/a/:id',
      '/hooks/b/:id',
      '/health',
      '/users/:id',
      '/schedules',
      'notFound',
    ]);
  });

  it('never jumps a route that could answer a hot request, nor any middleware', () => {
    const stack = [
      route('/health'),
      middleware('auth'),
      route('/:any/:thing/:id', () => true),
      route('/users/:id'),
      route('/hooks/a/:id', () => true),
    ];
    expect(hoistRoutes(stack, '/hooks/', SAMPLE)).toBe(1);
    expect(names(stack)).toEqual([
      '/health',
      'auth',
      '/:any/:thing/:id',
      '/hooks/a/:id',
      '/users/:id',
    ]);
    const blocked = [middleware('auth'), route('/hooks/a/:id')];
    expect(hoistRoutes(blocked, '/hooks/', SAMPLE)).toBe(0);
    expect(names(blocked)).toEqual(['auth', '/hooks/a/:id']);
  });

  it('leaves hot routes that are not together where they are', () => {
    const stack = [middleware('m'), route('/x'), route('/hooks/a'), route('/y'), route('/hooks/b')];
    expect(hoistRoutes(stack, '/hooks/', SAMPLE)).toBe(0);
    expect(names(stack)).toEqual(['m', '/x', '/hooks/a', '/y', '/hooks/b']);
  });
});
