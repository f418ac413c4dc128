import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { decodeEvent, type OrderChange } from '../../domain/events.js';
import {
  ExecutionType, StreamExecutionsResponseSchema, type StreamExecutionsResponse,
} from '../../gen/tierbook/v1/order_service_pb.js';
import { toProtoFill, toProtoOrder } from './proto-mapping.js';

/**
 * What one book event means for one account's StreamExecutions: zero, one or (never more
 * than) one message, since self-trades are prevented and an account is maker or taker.
 * Fills are reported as FILL with the fill and the order's state right after it; the order
 * events 'partially_filled' and 'filled' would repeat them, so they are not sent.
 */
const TYPES: Partial<Record<OrderChange, ExecutionType>> = {
  accepted: ExecutionType.ACCEPTED,
  canceled: ExecutionType.CANCELED,
  amended: ExecutionType.AMENDED,
  rejected: ExecutionType.REJECTED,
  expired: ExecutionType.EXPIRED,
};

/** The message for `accountId`, without its cursor (the stream sets it), or undefined. */
export function executionFor(accountId: string, fields: string[]): StreamExecutionsResponse | undefined {
  const ev = decodeEvent(fields);
  if (ev.kind === 'order') {
    const o = ev.event.order;
    const type = TYPES[ev.event.change];
    if (o.acct !== accountId || type === undefined) return undefined;
    return create(StreamExecutionsResponseSchema, { type, order: toProtoOrder(o), eventTime: timestampFromMs(Number(o.utime)) });
  }
  const f = ev.event;
  const as = f.maker.acct === accountId ? 'maker' : f.taker.acct === accountId ? 'taker' : undefined;
  if (!as) return undefined;
  const state = f.orders?.[as === 'maker' ? 0 : 1];
  return create(StreamExecutionsResponseSchema, {
    type: ExecutionType.FILL,
    fill: toProtoFill(f, as),
    order: state ? toProtoOrder(state) : undefined,
    eventTime: timestampFromMs(Number(f.time)),
  });
}
