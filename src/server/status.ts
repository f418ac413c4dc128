import { Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { ErrorInfoSchema, StatusSchema } from '../gen/google/rpc/status_pb.js';
import { ERROR_DOMAIN, type WireError } from '../domain/errors.js';

/**
 * Messages may quote the client's input (a symbol, an id). Trailers over the peer's HTTP/2
 * header-list limit (16 KiB by default) are never delivered and the client waits out its
 * deadline, so what we echo is capped.
 */
const MAX_TEXT = 512;

function capped(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}...` : text;
}

/**
 * Turns an error for the client into a grpc-js status: the readable message as the status
 * details, and a google.rpc.Status holding an ErrorInfo (stable reason, domain, metadata) in
 * the `grpc-status-details-bin` trailer, where grpcurl and every gRPC client library look.
 */
export function toServiceError(wire: WireError): Partial<StatusObject> & ServiceError {
  const err: WireError = {
    ...wire,
    message: capped(wire.message),
    metadata: Object.fromEntries(Object.entries(wire.metadata).map(([k, v]) => [k, capped(v)])),
  };
  const metadata = new Metadata();
  const info = create(ErrorInfoSchema, { reason: err.reason, domain: ERROR_DOMAIN, metadata: err.metadata });
  const status = create(StatusSchema, { code: err.code, message: err.message, details: [anyPack(ErrorInfoSchema, info)] });
  metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
  const e = new Error(err.message) as Error & Partial<StatusObject>;
  e.code = err.code;
  e.details = err.message;
  e.metadata = metadata;
  return e as Partial<StatusObject> & ServiceError;
}
