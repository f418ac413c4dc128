/**
 * Helpers shared by the protection tests: typed order calls for one account and a way to
 * run many calls at once and tally how each one ended.
 */
import { callError, TestClient, type CallError } from '../support/grpc-client.js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema, PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, GetOrderRequestSchema, GetOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import type { PlaceOrderRequest } from '../../src/gen/tierbook/v1/order_service_pb.js';

/** The fields of a PlaceOrderRequest, as plain values. */
export type PlaceInit = Partial<Omit<PlaceOrderRequest, '$typeName' | '$unknown'>>;

let seq = 0;

/** A valid resting limit order on AAPL (tick 1, lot 1, reference 1,900,000). */
export function restingBuy(over: PlaceInit = {}): PlaceInit {
  seq += 1;
  return {
    symbol: 'AAPL',
    side: Side.BUY,
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    priceTicks: 1_800_000n + BigInt(seq % 1000),
    quantityLots: 1n,
    clientOrderId: `t-${process.pid}-${Date.now()}-${seq}`,
    ...over,
  };
}

/** Order calls as one account. */
export class OrderClient {
  constructor(readonly client: TestClient) {}

  static of(target: string, apiKey: string, options: Record<string, unknown> = {}): OrderClient {
    return new OrderClient(new TestClient(target, apiKey, options));
  }

  place(req: PlaceInit, deadlineMs?: number) {
    return this.client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, req, deadlineMs);
  }

  placeMany(orders: PlaceInit[], deadlineMs?: number) {
    return this.client.unary(OrderService, 'PlaceOrders', PlaceOrdersRequestSchema, PlaceOrdersResponseSchema, { orders }, deadlineMs);
  }

  getByClientId(clientOrderId: string) {
    return this.client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { clientOrderId });
  }

  getById(orderId: string) {
    return this.client.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { orderId });
  }

  close(): void {
    this.client.close();
  }
}

/** How one call ended, and when (ms since the batch started). */
export interface Outcome {
  ok: boolean;
  error?: CallError;
  ms: number;
}

/** Starts every call at once and waits for all of them, recording each outcome. */
export async function runAll(calls: Array<() => Promise<unknown>>): Promise<Outcome[]> {
  const t0 = performance.now();
  return Promise.all(
    calls.map((c) =>
      c().then(
        () => ({ ok: true, ms: performance.now() - t0 }),
        (err: unknown) => ({ ok: false, error: callError(err), ms: performance.now() - t0 }),
      ),
    ),
  );
}

/** Counts outcomes by "OK" or "<code>/<reason>", for assertions and failure messages. */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.ok ? 'OK' : `${o.error!.code}/${o.error!.reason ?? '-'}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
