import { fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { ApiError } from '../domain/errors.js';

/**
 * The two ways a request is refused before any work: bytes that are not the message
 * (MALFORMED_REQUEST) and a field with a bad value (INVALID_FIELD, naming the field in the
 * message and in ErrorInfo metadata so a client can fix the request from the error alone).
 */

/** Decodes request bytes; bytes that are not the message give MALFORMED_REQUEST. */
export function decodeRequest<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw new ApiError('MALFORMED_REQUEST', `the request is not a valid ${schema.typeName}: ${(err as Error).message}`);
  }
}

export function invalidField(field: string, message: string): ApiError {
  return new ApiError('INVALID_FIELD', `${field}: ${message}`, { field });
}
