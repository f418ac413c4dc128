import { constants, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/** The highest stream id: a GOAWAY carrying it refuses nothing already sent. */
const MAX_STREAM_ID = 2 ** 31 - 1;
/** How often the quiet phase knocks on every open connection (ms). */
const PING_EVERY_MS = 10;
/** And how long after a call on a connection ended (ms). */
const AFTER_CALL_MS = 1;
/** A connection with no stream for this long is idle on the proxy's side too (ms). */
const IDLE_MS = 20;
/** Acks of idle probes that make a peer a client that does not close on PINGs. */
const IDLE_ACKS = 2;
/** Any 8 bytes: the acks are ignored, only the bytes on the wire matter. */
const PING_PAYLOAD = Buffer.from('tbdrain!');

/** Node's own count of a session's open streams (its internal state; -1 if not there). */
function openStreams(session: ServerHttp2Session): number {
  const key = Object.getOwnPropertySymbols(session).find((k) => k.description === 'state');
  const size = key && (session as unknown as Record<symbol, { streams?: { size?: unknown } } | undefined>)[key]?.streams?.size;
  return typeof size === 'number' ? size : -1;
}

/** The id of the last stream the peer began (nghttp2's, so in frame order with PING acks). */
function lastStreamId(session: ServerHttp2Session): number {
  try {
    return session.state.lastProcStreamID ?? -1;
  } catch {
    return -1;
  }
}

export interface DrainOptions {
  /** Longest quiet phase: ping, refuse nothing, wait for the peers to close (ms). */
  quietMs: number;
  /** After the GOAWAY notice to the connections still open, wait this long (ms). */
  noticeMs: number;
}

export interface DrainReport {
  /** Connections open when the drain began. */
  connections: number;
  /** Of those, closed by their peer during the quiet phase (nginx's keepalive cache). */
  closedQuietly: number;
  /** Of those, acked idle PINGs: direct clients, which the quiet phase does not wait for. */
  ackedIdle: number;
  /** Still open after the quiet phase: these got the GOAWAY notice. */
  notified: number;
  /** How long the quiet phase lasted (ms). */
  quietPhaseMs: number;
}

/**
 * The first half of a graceful HTTP/2 shutdown, before grpc-js `tryShutdown`. It makes the
 * proxy let go of this process's connections without this process ever refusing a stream.
 *
 * Why not simply a GOAWAY notice (last stream id 2^31-1, RFC 9113 §6.8)? Node cannot send
 * nghttp2's real shutdown notice: once any other GOAWAY has gone out, nghttp2 ignores every
 * new stream (session_allow_incoming_new_stream checks NGHTTP2_GOAWAY_SENT) and the final
 * GOAWAY refuses it. A call nginx writes on a keepalive connection while our GOAWAY is in
 * flight is lost that way, and nginx cannot retry it (the grpc module streams the request
 * body, request_body_no_buffering, so nothing is resent once sent): the client gets 502 ->
 * UNAVAILABLE. That was 2-6 failed calls in about 1 rolling restart in 6.
 *
 * So, in two phases:
 *
 * 1. Quiet: stop listening (during a rolling restart the replacement already listens on the
 *    same port, through the cluster primary), then send a PING on each open connection every
 *    10 ms and 1 ms after each call on it ends, and nothing else. nginx closes a connection
 *    idle in its upstream keepalive cache as soon as any byte arrives on it
 *    (ngx_http_upstream_keepalive_close_handler peeks and closes unless EAGAIN), while a PING
 *    on a connection with a call in flight is merely acked and the call finishes normally;
 *    a busy connection is closed by the first PING that finds it back in the cache. nginx
 *    takes connections out of its cache and closes them in its one thread, so it never sends
 *    a call on a connection it has closed, and we still accept every stream: no call is
 *    refused. A peer that acks twice a PING sent while its connection had been idle for
 *    20 ms, with no stream begun before the ack, is not an nginx cache (nginx would have
 *    closed): a direct client, not waited for. The phase ends when every connection is
 *    closed or known direct, or after `quietMs`. Measured (test/ops/cluster-restarts): nginx
 *    let go of all 8 connections of a process under 16 concurrent callers in 8-619 ms.
 * 2. Notice: the connections still open (direct clients, or nginx connections still busy,
 *    e.g. with a StreamExecutions stream, whose calls the notice does not endanger) get the
 *    GOAWAY notice, then `noticeMs` to read it before grpc-js `tryShutdown` sends the final
 *    GOAWAY. gRPC clients stop sending on a connection after a GOAWAY and retry the streams
 *    it refused themselves, transparently.
 *
 * grpc-js exposes neither its listeners nor its sessions, so this reads its (pinned, 1.14)
 * internals, `http2Servers: Map<Http2Server, { sessions: Set<ServerHttp2Session> }>` (grpc-js
 * deletes a session from that set on its 'close'), and does nothing if they are not there;
 * likewise Node's count of a session's open streams (without it no peer is taken for a
 * direct client, and the quiet phase may just last longer).
 */
export async function announceDrain(server: Server, opts: DrainOptions): Promise<DrainReport> {
  const internals = server as unknown as { http2Servers?: Map<Http2Server, { sessions?: Set<ServerHttp2Session> }> };
  const report: DrainReport = { connections: 0, closedQuietly: 0, ackedIdle: 0, notified: 0, quietPhaseMs: 0 };
  if (!(internals.http2Servers instanceof Map)) return report;
  const open = new Set<ServerHttp2Session>();
  for (const [listener, info] of internals.http2Servers) {
    // Stop accepting: during a rolling restart the replacement takes the new connections.
    // (Node 20's Http2Server.close is net.Server.close: it leaves the sessions alone.)
    if (listener.listening) listener.close();
    for (const session of info.sessions ?? []) if (!session.closed && !session.destroyed) open.add(session);
  }
  report.connections = open.size;
  if (open.size === 0) return report;

  // Phase 1: knock on every connection until the peers have closed them all. A peer that
  // acks a PING while nothing runs on its connection is not an nginx keepalive cache (nginx
  // would have closed it): a direct client, which will not close on its own and handles the
  // GOAWAY notice well, so the drain does not wait for it.
  const started = Date.now();
  const waiting = new Set(open);
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(knock);
      clearTimeout(limit);
      resolve();
    };
    const settled = (session: ServerHttp2Session) => {
      waiting.delete(session);
      if (waiting.size === 0) finish();
    };
    const lastActivity = new Map<ServerHttp2Session, number>();
    const idleAcks = new Map<ServerHttp2Session, number>();
    for (const session of open) {
      lastActivity.set(session, started);
      session.once('close', () => {
        open.delete(session);
        if (done) return;
        if (waiting.has(session)) report.closedQuietly++;
        settled(session);
      });
      // A connection nginx keeps busy is idle only between the end of one call and the
      // start of the next: knock right after each call on it ends too, a moment later so the
      // PING does not arrive in the same read as the call's trailers (nginx would ack it as
      // part of that call and keep the connection).
      session.on('stream', (stream: ServerHttp2Stream) => {
        lastActivity.set(session, Date.now());
        stream.once('close', () => {
          lastActivity.set(session, Date.now());
          setTimeout(pingOne, AFTER_CALL_MS, session);
        });
      });
    }
    const pingOne = (session: ServerHttp2Session) => {
      if (done || session.closed || session.destroyed) return;
      // An idle probe: no stream open, none for IDLE_MS (so nginx has long read the last
      // call's trailers and put the connection back in its cache).
      const probe = openStreams(session) === 0 && Date.now() - (lastActivity.get(session) ?? 0) >= IDLE_MS;
      const streamsBefore = lastStreamId(session);
      try {
        session.ping(PING_PAYLOAD, (err) => {
          // Only the ack of an idle probe with no stream begun since counts; errors (the
          // peer closed: ERR_HTTP2_PING_CANCEL) and other acks do not matter.
          if (err || !probe || done || !waiting.has(session)) return;
          if (openStreams(session) !== 0 || lastStreamId(session) !== streamsBefore) return;
          const n = (idleAcks.get(session) ?? 0) + 1;
          idleAcks.set(session, n);
          if (n >= IDLE_ACKS) {
            report.ackedIdle++;
            settled(session);
          }
        });
      } catch {
        /* closing already, or too many pings outstanding: the next round tries again */
      }
    };
    const ping = () => {
      for (const session of open) pingOne(session);
    };
    const knock = setInterval(ping, PING_EVERY_MS);
    const limit = setTimeout(finish, opts.quietMs);
    ping();
  });
  report.quietPhaseMs = Date.now() - started;

  // Phase 2: the rest are not nginx's idle connections: ask them to stop.
  for (const session of open) {
    if (session.closed || session.destroyed) continue;
    try {
      session.goaway(constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      report.notified++;
    } catch {
      /* the session is closing already */
    }
  }
  if (report.notified > 0) await new Promise((r) => setTimeout(r, opts.noticeMs));
  return report;
}
