import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

/**
 * A route's decorator metadata (`getAllAndOverride` over its handler and class), read once per
 * route instead of once per request: decorators are applied when the classes are defined, so the
 * answer for a (class, handler) pair never changes. Global guards run on every request.
 */
export class RouteMetadataCache<T> {
  private readonly byClass = new WeakMap<object, WeakMap<object, { value: T | undefined }>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly key: string,
  ) {}

  get(context: ExecutionContext): T | undefined {
    const cls = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.byClass.get(cls);
    if (!byHandler) this.byClass.set(cls, (byHandler = new WeakMap()));
    let hit = byHandler.get(handler);
    if (!hit) {
      hit = { value: this.reflector.getAllAndOverride<T | undefined>(this.key, [handler, cls]) };
      byHandler.set(handler, hit);
    }
    return hit.value;
  }
}
