/**
 * A bare HTTP/2 gRPC client for the cases grpc-js will not produce: hand-made headers (a
 * `grpc-timeout` that is already over), hand-made frames (a length prefix that lies) and
 * bodies past the client's own limits. It reports what the server answered, or that the
 * connection failed, so tests can assert "a defined status, never a dropped connection".
 */
import { connect, constants, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

export interface RawReply {
  /** The HTTP status (200 for every gRPC answer, including errors). */
  httpStatus: number;
  /** grpc-status from the trailers (or headers, for trailers-only answers); undefined if none. */
  grpcStatus?: number;
  grpcMessage?: string;
  body: Buffer;
}

/** Frames a message as gRPC does: 1 byte compressed flag, 4 bytes big-endian length, bytes. */
export function grpcFrame(message: Uint8Array, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, message]);
}

/** One HTTP/2 session to reuse for many raw calls (http: h2c, https: TLS). */
export function rawSession(authority: string, tls?: SecureClientSessionOptions): ClientHttp2Session {
  return connect(`${tls ? 'https' : 'http'}://${authority}`, tls ?? {});
}

/** Sends one raw gRPC request (body already framed) and collects the status. */
export function rawCall(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const timer = setTimeout(() => {
      req.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const reply: RawReply = { httpStatus: 0, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    const take = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) reply.grpcStatus = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) reply.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', (h) => {
      reply.httpStatus = Number(h[':status']);
      take(h);
    });
    req.on('trailers', take);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      clearTimeout(timer);
      reply.body = Buffer.concat(chunks);
      resolve(reply);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
