import type { Request, Response } from 'express';

/**
 * Starts a server-sent event stream on a plain Express response: the socket kept open with no
 * timeout and no Nagle delay, headers that keep every proxy and cache from holding it, and a
 * first empty line so the client sees the stream open. Same wire format as Nest's @Sse; the
 * caller writes `event:`/`id:`/`data:` frames and ends the response.
 */
export function openEventStream(req: Request, res: Response): void {
  req.socket.setKeepAlive(true);
  req.socket.setNoDelay(true);
  req.socket.setTimeout(0);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    Connection: 'keep-alive',
    'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
    Pragma: 'no-cache',
    Expires: '0',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.write('\n');
}
