import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IS_PUBLIC = 'firebreak:public';

/**
 * Marks a route as reachable without a session or API token. Every other route is denied to
 * anonymous callers by the global guard. Use only for health, metrics, login and webhooks that
 * check their own signature.
 */
export const Public = () =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension('x-public', true));
