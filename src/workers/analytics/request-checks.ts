import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { invalidField } from '../request-decoding.js';

/**
 * Decoding and validation shared by the analytics handlers. Every refusal is INVALID_ARGUMENT
 * with the field named in the message and in ErrorInfo metadata.
 */


/** The earliest and latest instants we accept: what Postgres' tierbook_ms() can represent. */
const MIN_MS = 0n;
const MAX_MS = 8_640_000_000_000_000n;

/** A Timestamp as epoch milliseconds (bigint, exact), or undefined when unset. */
export function timestampMs(ts: Timestamp | undefined, field: string): bigint | undefined {
  if (!ts) return undefined;
  if (ts.nanos < 0 || ts.nanos > 999_999_999) throw invalidField(field, 'nanos must be between 0 and 999999999');
  const ms = ts.seconds * 1000n + BigInt(Math.floor(ts.nanos / 1_000_000));
  if (ms < MIN_MS || ms > MAX_MS) throw invalidField(field, 'must be between 1970-01-01 and the year 275760');
  return ms;
}

/** A half-open range [start, end): an inverted or empty range is a client error. */
export function checkRange(start: bigint | undefined, end: bigint | undefined, startField = 'start_time', endField = 'end_time'): void {
  if (start !== undefined && end !== undefined && start >= end) {
    throw invalidField(endField, `must be after ${startField}`);
  }
}

/** A page size: 0 means `def`, otherwise 1..max. */
export function pageSize(raw: number, def: number, max: number, field = 'page_size'): number {
  if (raw < 0 || raw > max) throw invalidField(field, `must be between 1 and ${max} (0 means ${def}), got ${raw}`);
  return raw === 0 ? def : raw;
}

/** An epoch-ms bigint as a protobuf Timestamp. */
export function msTimestamp(ms: bigint | number): Timestamp {
  return timestampFromMs(Number(ms));
}
