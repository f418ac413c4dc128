/**
 * What the API tests share: a stack behind real nginx (optionally with the sync thread, for
 * what reaches Postgres), typed clients per account, and a StreamExecutions subscriber that
 * records the response headers and every message, as an outside client would see them.
 */
import { tempJsonFile } from '../support/temp-files.js';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, type ClientReadableStream, type StatusObject } from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { pino } from 'pino';
import {
  OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema, StreamExecutionsRequestSchema,
  StreamExecutionsResponseSchema, type PlaceOrderResponse, type StreamExecutionsResponse,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { startSyncThread, type SyncThread } from '../../src/sync/index.js';
import type { TierName } from '../../src/domain/tiers.js';
import { TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/** Instruments with small limits so every refusal is easy to reach. */
export const API_INSTRUMENTS = [
  { symbol: 'AAA', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 2000, maxNotionalTicks: 500000, positionLimitLots: 5000 },
  { symbol: 'BBB', tickSize: 5, lotSize: 10, minQty: 10, maxQty: 1000, maxPriceTicks: 100000, referencePriceTicks: 1000, bandBps: 2000, maxNotionalTicks: 1000000, positionLimitLots: 5000 },
  { symbol: 'CCC', tickSize: 1, lotSize: 1, minQty: 1, maxQty: 100, maxPriceTicks: 100000, referencePriceTicks: 100, bandBps: 5000, maxNotionalTicks: 1000000, positionLimitLots: 150 },
];

export interface ApiStack {
  stack: TestStack;
  sync?: SyncThread;
  /** A new account of `tier` and a client for it, through nginx. */
  client(tier?: TierName): Promise<{ client: TestClient; accountId: string }>;
  stop(): Promise<void>;
}

export async function startApiStack(opts: { sync?: boolean; env?: Record<string, string> } = {}): Promise<ApiStack> {
  const file = tempJsonFile('api-inst', 'instruments.json', API_INSTRUMENTS);
  const stack = await startTestStack({ env: {
    TIERBOOK_INSTRUMENTS_FILE: file, TIERBOOK_SYNC_DISCOVER_INTERVAL_MS: '100', TIERBOOK_SYNC_LINGER_MS: '2', ...opts.env,
  } });
  const sync = opts.sync ? await startSyncThread(stack.config, pino({ level: 'silent' })) : undefined;
  const clients: TestClient[] = [];
  return {
    stack,
    sync,
    async client(tier = 'PRO') {
      const a = await stack.createAccount(tier);
      const client = new TestClient(stack.target, a.apiKey);
      clients.push(client);
      return { client, accountId: a.accountId };
    },
    async stop() {
      for (const c of clients) c.close();
      await sync?.stop();
      await stack.stop();
    },
  };
}

/** A limit order on AAA unless `o` says otherwise. */
export function place(c: TestClient, o: MessageInitShape<typeof PlaceOrderRequestSchema>): Promise<PlaceOrderResponse> {
  return c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, {
    symbol: 'AAA', type: OrderType.LIMIT, timeInForce: TimeInForce.GTC, side: Side.BUY, ...o,
  });
}

export interface Subscription {
  messages: StreamExecutionsResponse[];
  /** The response headers, once they arrived. */
  headers: Promise<Metadata>;
  status: Promise<StatusObject>;
  cancel(): void;
}

/** Opens StreamExecutions (from `cursor`, or live when empty). */
export function subscribe(c: TestClient, cursor = ''): Subscription {
  const req = Buffer.from(toBinary(StreamExecutionsRequestSchema, create(StreamExecutionsRequestSchema, { cursor })));
  const call: ClientReadableStream<Buffer> = c.raw.makeServerStreamRequest(
    '/tierbook.v1.OrderService/StreamExecutions', (b: Buffer) => b, (b: Buffer) => b, req, c.metadata());
  const messages: StreamExecutionsResponse[] = [];
  const headers = new Promise<Metadata>((res) => call.on('metadata', res));
  call.on('data', (b: Buffer) => messages.push(fromBinary(StreamExecutionsResponseSchema, b)));
  const status = new Promise<StatusObject>((res) => {
    call.on('status', res);
    call.on('error', () => undefined);
  });
  return { messages, headers, status, cancel: () => call.cancel() };
}

/** Polls `read` until `ok` holds (about 10 s at most). */
export async function eventually<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 400 && !ok(v); i++) {
    await sleep(25);
    v = await read();
  }
  assert.ok(ok(v), `timed out waiting for ${what}; last value ${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x))}`);
  return v;
}
