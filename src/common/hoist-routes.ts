/** What hoistRoutes needs of an Express router layer (router 2.x: `app.router.stack`). */
export interface RouterLayer {
  route?: { path?: unknown };
  match(path: string): unknown;
}

/**
 * Moves the route layers of a hot URL prefix up the router's stack, to just after the last
 * layer before them that could also answer a request there. Express tries layers in order and
 * Nest registers every controller's routes in module order, so a request to the last module's
 * routes is first tested against every route before them (≈ 100 here). A layer that matches
 * none of `samples` (one path per hot route) never runs for such a request, so moving the hot
 * routes in front of it changes nothing a request sees: the middleware before them (request id,
 * headers, metrics, logger, body parsers: non-route layers, never jumped) runs as before, and a
 * request elsewhere does not match the hot routes wherever they are. Returns how many moved.
 */
export function hoistRoutes(stack: RouterLayer[], prefix: string, samples: string[]): number {
  const isHot = (l: RouterLayer) =>
    typeof l.route?.path === 'string' && l.route.path.startsWith(prefix);
  const first = stack.findIndex(isHot);
  if (first < 0) return 0;
  let end = first;
  while (end < stack.length && isHot(stack[end])) end++;
  // Together, in their order, or not moved at all.
  if (stack.slice(end).some(isHot)) return 0;
  // The last layer before them that is middleware or could match a request to them.
  let at = first - 1;
  while (at >= 0 && stack[at].route && !samples.some((p) => stack[at].match(p))) at--;
  if (at === first - 1) return 0;
  const hot = stack.splice(first, end - first);
  stack.splice(at + 1, 0, ...hot);
  return hot.length;
}
