import { constants, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/** The highest stream id: a GOAWAY carrying it refuses nothing already sent. */
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * The first half of a graceful HTTP/2 shutdown, before grpc-js `tryShutdown`: stop accepting
 * connections, and send every open connection a GOAWAY whose last stream id is the highest
 * possible (the "shutdown notice" of RFC 9113 §6.8, as grpc-js itself sends at max connection
 * age). nginx then closes the connections idle in its keepalive cache and stops reusing the
 * busy ones once their call ends, so by the final GOAWAY (which names the last stream seen)
 * almost no new call is on its way. Measured through nginx with 16 concurrent callers:
 * 2-8 failed calls per drained process without the notice, 0 with it in most runs.
 *
 * Not a perfect notice: Node cannot send nghttp2's real shutdown notice, so after this GOAWAY
 * nghttp2 ignores streams that arrive anyway (a call nginx sent in that instant), and the
 * final GOAWAY refuses them; nginx cannot retry them (the request body is gone) and answers
 * UNAVAILABLE, which clients may retry (the call was never run).
 *
 * grpc-js exposes neither its listeners nor its sessions, so this reads its (pinned)
 * internals and does nothing if they are not where version 1.14 keeps them.
 *
 * @returns how many connections were notified
 */
export function announceDrain(server: Server): number {
  const internals = server as unknown as { http2Servers?: Map<Http2Server, { sessions?: Set<ServerHttp2Session> }> };
  if (!(internals.http2Servers instanceof Map)) return 0;
  let notified = 0;
  for (const [listener, info] of internals.http2Servers) {
    // Stop accepting: during a rolling restart the replacement takes the new connections.
    if (listener.listening) listener.close();
    for (const session of info.sessions ?? []) {
      if (session.closed || session.destroyed) continue;
      try {
        session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
        notified++;
      } catch {
        /* the session is closing already */
      }
    }
  }
  return notified;
}
