/**
 * A bounded load driver for operations tests: `concurrency` loops place resting limit orders
 * through nginx (each with a unique client_order_id) for at most `durationMs` and at most
 * `maxCalls`, and record every outcome. Acknowledged orders are kept so the test can check
 * none is lost.
 */
import { status } from '@grpc/grpc-js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../../../src/gen/tierbook/v1/types_pb.js';
import { callError, TestClient } from '../../support/grpc-client.js';

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** Calls by gRPC status name. */
  byStatus: Record<string, number>;
  /** client_order_id -> order_id of every acknowledged order. */
  acked: Map<string, string>;
  /** client_order_ids of failed calls (their outcome is unknown to the client). */
  failedIds: string[];
  /** When each failed call was sent and when it failed (epoch ms), in failedIds order. */
  failedTimes: { sent: number; failed: number }[];
  /** Each failed call's status name and message (grpc-js `details`), in failedIds order. */
  failedDetails: string[];
  /** Attempts that failed with UNAVAILABLE and were retried (not counted as failed calls). */
  retried: number;
  seconds: number;
}

export interface LoadOptions {
  target: string;
  apiKey: string;
  concurrency: number;
  durationMs: number;
  maxCalls: number;
  /** Unique per run: client order ids are `${prefix}-${n}`. */
  prefix: string;
  /** Client connections to spread the loops over. */
  connections?: number;
  deadlineMs?: number;
  /** Resolves when the load may stop early (e.g. once a restart is over and some more calls ran). */
  stopWhen?: Promise<void>;
  /** More accounts: loop k uses key k % n (with `order`, e.g. buyers and sellers that trade). */
  apiKeys?: string[];
  /** The order loop k sends as its n-th call; resting orders by default. */
  order?: (clientOrderId: string, n: number, loop: number) => ReturnType<typeof restingOrder>;
  /** Keep acknowledged ids (default true; a long soak turns it off to keep its own memory flat). */
  keepAcked?: boolean;
  /**
   * Retry a call that failed with UNAVAILABLE up to this many times, with the same
   * client_order_id (safe: PlaceOrder is idempotent), as the API docs tell clients to.
   */
  retryUnavailable?: number;
}

/** A limit order that rests (buys below, sells above the reference price): no fills needed. */
export function restingOrder(clientOrderId: string, n: number, _loop = 0) {
  const buy = n % 2 === 0;
  return {
    symbol: 'AAPL',
    side: buy ? Side.BUY : Side.SELL,
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    priceTicks: BigInt(buy ? 1_800_000 + (n % 100) : 2_000_000 - (n % 100)),
    quantityLots: 1n,
    clientOrderId,
  };
}

export async function driveLoad(o: LoadOptions): Promise<LoadResult> {
  return startLoad(o).done;
}

/** Starts the load; `result` fills in as calls finish (for progress reports). */
export function startLoad(o: LoadOptions): { result: LoadResult; done: Promise<LoadResult> } {
  const keys = o.apiKeys ?? [o.apiKey];
  const conns = o.connections ?? 4;
  const clients = Array.from({ length: conns * keys.length }, (_, i) => new TestClient(o.target, keys[i % keys.length]));
  const r: LoadResult = { sent: 0, ok: 0, failed: 0, byStatus: {}, acked: new Map(), failedIds: [], failedTimes: [], failedDetails: [], retried: 0, seconds: 0 };
  return { result: r, done: run(o, clients, keys.length, r) };
}

async function run(o: LoadOptions, clients: TestClient[], nKeys: number, r: LoadResult): Promise<LoadResult> {
  const started = Date.now();
  let stop = false;
  void o.stopWhen?.then(() => (stop = true));
  const until = started + o.durationMs;
  let n = 0;
  const loop = async (k: number) => {
    // Loop k speaks for account k % nKeys, over one of that account's connections.
    const client = clients[(k % nKeys) + nKeys * (Math.floor(k / nKeys) % (clients.length / nKeys))]!;
    while (!stop && Date.now() < until && n < o.maxCalls) {
      const i = n++;
      const id = `${o.prefix}-${i}`;
      r.sent++;
      const sentAt = Date.now();
      try {
        const req = (o.order ?? restingOrder)(id, i, k);
        const call = () => client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, req, o.deadlineMs ?? 10_000);
        let res: Awaited<ReturnType<typeof call>> | undefined;
        for (let attempt = 0; !res; attempt++) {
          try {
            res = await call();
          } catch (err) {
            if (attempt >= (o.retryUnavailable ?? 0) || callError(err).code !== status.UNAVAILABLE) throw err;
            r.retried++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        r.ok++;
        if (o.keepAcked !== false) r.acked.set(id, res.order!.orderId);
        r.byStatus.OK = (r.byStatus.OK ?? 0) + 1;
      } catch (err) {
        const e = callError(err);
        r.failed++;
        r.failedIds.push(id);
        r.failedTimes.push({ sent: sentAt, failed: Date.now() });
        const name = status[e.code] ?? String(e.code);
        r.failedDetails.push(`${name}: ${e.message}`);
        r.byStatus[name] = (r.byStatus[name] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, k) => loop(k)));
  r.seconds = (Date.now() - started) / 1000;
  for (const c of clients) c.close();
  return r;
}

/** One line for the test log: sent, failed, by status, rate. */
export function summary(name: string, r: LoadResult): string {
  const retried = r.retried ? ` (${r.retried} attempts retried after UNAVAILABLE)` : '';
  return `${name}: sent ${r.sent}, ok ${r.ok}, failed ${r.failed}${retried}, by status ${JSON.stringify(r.byStatus)}, ${(r.sent / r.seconds).toFixed(0)} calls/s over ${r.seconds.toFixed(1)} s`;
}
