/**
 * The chaos bench's load: an open loop at a steady rate (calls keep arriving during an
 * outage, as from real clients, instead of a closed loop that slows down with the stack), a
 * mix of PlaceOrder (a buyer and a seller crossing at one price, so every pair trades and
 * positions move), GetOrder (Redis) and GetPortfolio (analytics), through nginx. Every call is
 * recorded with its send and end times and status, and every acknowledged order with its id,
 * so a fault's outage and losses can be read off afterwards. No retries: what a client sees.
 */
import { status } from '@grpc/grpc-js';
import { GetPortfolioRequestSchema, GetPortfolioResponseSchema, AnalyticsService } from '../src/gen/tierbook/v1/analytics_service_pb.js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../src/gen/tierbook/v1/types_pb.js';
import { callError, TestClient } from '../test/support/grpc-client.js';

export type Method = 'PlaceOrder' | 'GetOrder' | 'GetPortfolio';

export interface CallRecord {
  method: Method;
  sentAt: number;
  endAt: number;
  /** gRPC status name: OK, UNAVAILABLE, ... */
  code: string;
  detail?: string;
}

export interface AckedOrder {
  clientOrderId: string;
  orderId: string;
  ackAt: number;
  /** Which of the two accounts placed it (only its owner may read it). */
  key: number;
}

export interface LoadOptions {
  target: string;
  /** A buyer's and a seller's API keys (one ELITE, one PRO: both pools carry load). */
  apiKeys: [string, string];
  rps: number;
  /** Client order ids are `${prefix}-${n}`. */
  prefix: string;
  deadlineMs: number;
  /** Calls in flight beyond which new calls are not sent (counted as skipped). */
  maxInFlight: number;
}

export interface RunningLoad {
  calls: CallRecord[];
  acked: AckedOrder[];
  /** PlaceOrder calls that failed: their outcome is unknown to the client. */
  failedOrders: { clientOrderId: string; request: ReturnType<typeof crossingOrder>; key: number }[];
  skipped: number;
  /** Stops sending; resolves when every call in flight has ended. */
  stop(): Promise<void>;
  /** Sends a PlaceOrder again with the same request (the idempotent retry a client makes). */
  retryPlace(failed: RunningLoad['failedOrders'][number]): Promise<CallRecord & { orderId?: string; createdAt?: number }>;
  /** Closes the client connections (after the last retry). */
  close(): void;
}

/** Buyer (key 0) and seller (key 1) at one price, one lot: each pair trades. */
export function crossingOrder(clientOrderId: string, buy: boolean) {
  return {
    symbol: 'MSFT',
    side: buy ? Side.BUY : Side.SELL,
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    priceTicks: 4_200_000n,
    quantityLots: 1n,
    clientOrderId,
  };
}

/**
 * Client channels as a service would tune them for fail-over: reconnect quickly after nginx
 * comes back (grpc-js backs off up to 120 s by default), and one connection per client
 * instead of the process-wide shared one.
 */
const CHANNEL_OPTIONS = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
};

/** The mix: of every 10 calls, 6 PlaceOrder, 2 GetOrder, 2 GetPortfolio. */
const MIX: Method[] = ['PlaceOrder', 'GetOrder', 'PlaceOrder', 'GetPortfolio', 'PlaceOrder', 'PlaceOrder', 'GetOrder', 'PlaceOrder', 'GetPortfolio', 'PlaceOrder'];

export function startLoad(o: LoadOptions): RunningLoad {
  const clients = o.apiKeys.map((k) => new TestClient(o.target, k, CHANNEL_OPTIONS));
  const load: RunningLoad = { calls: [], acked: [], failedOrders: [], skipped: 0, stop, retryPlace, close: () => clients.forEach((c) => c.close()) };
  let inFlight = 0;
  let issued = 0;
  let placed = 0;
  const started = Date.now();
  const pending = new Set<Promise<void>>();

  const place = (key: number, request: ReturnType<typeof crossingOrder>) =>
    clients[key]!.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, request, o.deadlineMs);

  async function one(n: number): Promise<void> {
    const method = MIX[n % MIX.length]!;
    const key = n % 2;
    const rec: CallRecord = { method, sentAt: Date.now(), endAt: 0, code: 'OK' };
    let request: ReturnType<typeof crossingOrder> | undefined;
    try {
      if (method === 'PlaceOrder') {
        const i = placed++;
        // Alternate buyer and seller by order number, so buys and sells pair up.
        request = crossingOrder(`${o.prefix}-${i}`, i % 2 === 0);
        const res = await place(i % 2, request);
        load.acked.push({ clientOrderId: request.clientOrderId, orderId: res.order!.orderId, ackAt: Date.now(), key: i % 2 });
      } else if (method === 'GetOrder') {
        const recent = load.acked.at(-1 - (n % 16));
        await clients[recent?.key ?? key]!.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, recent ? { orderId: recent.orderId } : { clientOrderId: 'none' }, o.deadlineMs)
          .catch((err) => {
            // Before the first acknowledgement there is nothing to read: NOT_FOUND is an answer.
            if (!recent && callError(err).code === status.NOT_FOUND) return;
            throw err;
          });
      } else {
        await clients[key]!.unary(AnalyticsService, 'GetPortfolio', GetPortfolioRequestSchema, GetPortfolioResponseSchema, {}, o.deadlineMs);
      }
    } catch (err) {
      const e = callError(err);
      rec.code = status[e.code] ?? String(e.code);
      rec.detail = e.message;
      if (request) load.failedOrders.push({ clientOrderId: request.clientOrderId, request, key: request.side === Side.BUY ? 0 : 1 });
    } finally {
      rec.endAt = Date.now();
      load.calls.push(rec);
    }
  }

  // Every 5 ms, send the calls the schedule owes since the start (steady rate, no bursts lost).
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * o.rps) / 1000);
    while (issued < due) {
      const n = issued++;
      if (inFlight >= o.maxInFlight) {
        load.skipped++;
        continue;
      }
      inFlight++;
      const p = one(n).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
  }, 5);

  async function stop(): Promise<void> {
    clearInterval(timer);
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }

  async function retryPlace(failed: RunningLoad['failedOrders'][number]) {
    const rec: CallRecord & { orderId?: string; createdAt?: number } = { method: 'PlaceOrder', sentAt: Date.now(), endAt: 0, code: 'OK' };
    try {
      const order = (await place(failed.key, failed.request)).order!;
      rec.orderId = order.orderId;
      // An order created before this retry was placed by the call that failed (idempotent reply).
      rec.createdAt = Number(order.createTime?.seconds ?? 0n) * 1000 + Math.floor((order.createTime?.nanos ?? 0) / 1e6);
    } catch (err) {
      const e = callError(err);
      rec.code = status[e.code] ?? String(e.code);
      rec.detail = e.message;
    }
    rec.endAt = Date.now();
    return rec;
  }

  return load;
}
