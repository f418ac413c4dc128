import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { FillEvent, OrderState, SideCode } from '../../domain/events.js';
import {
  FillSchema, Liquidity, OrderSchema, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce,
  type Fill, type Order,
} from '../../gen/tierbook/v1/types_pb.js';

/**
 * Between the event contract's codes (what Lua writes) and the API's enums. Shared by the
 * order handlers and StreamExecutions so both show an order the same way.
 */
export const SIDE: Record<SideCode, Side> = { BUY: Side.BUY, SELL: Side.SELL };
export const ORDER_TYPE = { LIMIT: OrderType.LIMIT, MARKET: OrderType.MARKET } as const;
export const TIF = { GTC: TimeInForce.GTC, IOC: TimeInForce.IOC, FOK: TimeInForce.FOK } as const;
export const STP = {
  CANCEL_NEWEST: SelfTradePrevention.CANCEL_NEWEST,
  CANCEL_OLDEST: SelfTradePrevention.CANCEL_OLDEST,
  CANCEL_BOTH: SelfTradePrevention.CANCEL_BOTH,
} as const;
export const STATUS = {
  NEW: OrderStatus.NEW,
  PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
  FILLED: OrderStatus.FILLED,
  CANCELED: OrderStatus.CANCELED,
  EXPIRED: OrderStatus.EXPIRED,
  REJECTED: OrderStatus.REJECTED,
} as const;

/** Epoch-ms decimal string (Redis TIME) to a Timestamp; never through float seconds. */
function ts(ms: string) {
  return timestampFromMs(Number(ms));
}

/** An order state (script reply or event) as the API's Order. */
export function toProtoOrder(o: OrderState): Order {
  const filled = BigInt(o.filled);
  const finished = o.status !== 'NEW' && o.status !== 'PARTIALLY_FILLED';
  return create(OrderSchema, {
    orderId: o.id,
    clientOrderId: o.coid,
    symbol: o.sym,
    side: SIDE[o.side],
    type: ORDER_TYPE[o.type],
    timeInForce: TIF[o.tif],
    priceTicks: BigInt(o.px),
    quantityLots: BigInt(o.qty),
    filledLots: filled,
    remainingLots: finished ? 0n : BigInt(o.qty) - filled,
    filledNotionalTicks: BigInt(o.notional),
    status: STATUS[o.status],
    postOnly: o.post,
    selfTradePrevention: STP[o.stp],
    statusReason: o.reason,
    createTime: ts(o.ctime),
    updateTime: ts(o.utime),
    version: BigInt(o.ver),
  });
}

/** A fill as seen by one account: the maker's or the taker's side of it. */
export function toProtoFill(f: Omit<FillEvent, 'positions' | 'orders'>, as: 'maker' | 'taker'): Fill {
  const mine = f[as];
  return create(FillSchema, {
    fillId: f.id,
    orderId: mine.order,
    clientOrderId: mine.coid,
    symbol: f.sym,
    side: SIDE[mine.side],
    priceTicks: BigInt(f.px),
    quantityLots: BigInt(f.qty),
    liquidity: as === 'maker' ? Liquidity.MAKER : Liquidity.TAKER,
    fillTime: ts(f.time),
  });
}
