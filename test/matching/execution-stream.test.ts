import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/shared/redis.js';
import { pino } from 'pino';
import { validateInstruments } from '../../src/domain/matching/instrument.js';
import {
  ExecutionType, StreamExecutionsRequestSchema, StreamExecutionsResponseSchema, type StreamExecutionsResponse,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { createExecutionStreams, type ExecutionStreams } from '../../src/server/execution-stream.js';
import { publishInstruments } from '../../src/workers/orders/instruments-store.js';
import { OrderEngine } from '../../src/workers/orders/order-engine.js';
import type { OrderInput } from '../../src/domain/matching/order-input.js';
import { startSwitchableRedis, type SwitchableRedis } from '../support/test-redis.js';
import { TEST_INSTRUMENTS } from './harness.js';

const PATH = '/tierbook.v1.OrderService/StreamExecutions';
const identity = (b: Buffer) => b;
let srv: SwitchableRedis;
let redis: Redis;
let streams: ExecutionStreams;
let server: grpc.Server;
let client: grpc.Client;

before(async () => {
  srv = await startSwitchableRedis();
  redis = createRedis(srv.url);
  await publishInstruments(redis, validateInstruments(TEST_INSTRUMENTS, 't'));
  streams = createExecutionStreams({ redisUrl: srv.url, logger: pino({ level: 'silent' }), symbols: () => ['AAA', 'BBB', 'CCC'], maxSubscribers: 3 });
  server = new grpc.Server();
  server.addService({
    StreamExecutions: { path: PATH, requestStream: false, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  }, {
    StreamExecutions: (call: grpc.ServerWritableStream<Buffer, Buffer>) =>
      streams.handle(call, { accountId: String(call.metadata.get('account')[0]), tier: 'PRO' }),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
after(async () => {
  client.close();
  await streams.close();
  server.forceShutdown();
  redis.disconnect();
  await srv.stop();
});

interface Sub { messages: StreamExecutionsResponse[]; status: Promise<grpc.StatusObject>; ready: Promise<void>; cancel(): void }

/** No stream in these tests may outlive this: a hang fails the test instead of the run. */
const STREAM_DEADLINE_MS = 30_000;

function subscribe(account: string, cursor = ''): Sub {
  const md = new grpc.Metadata();
  md.set('account', account);
  const req = Buffer.from(toBinary(StreamExecutionsRequestSchema, create(StreamExecutionsRequestSchema, { cursor })));
  const call = client.makeServerStreamRequest(PATH, identity, identity, req, md, { deadline: Date.now() + STREAM_DEADLINE_MS });
  const messages: StreamExecutionsResponse[] = [];
  // The gateway sends the response headers once the subscriber is registered: that is "live".
  const ready = new Promise<void>((res) => call.on('metadata', () => res()));
  call.on('data', (b: Buffer) => messages.push(fromBinary(StreamExecutionsResponseSchema, b)));
  const status = new Promise<grpc.StatusObject>((res) => {
    call.on('status', res);
    call.on('error', () => undefined);
  });
  return { messages, status, ready, cancel: () => call.cancel() };
}

const engine = () => new OrderEngine(redis);
const order = (o: Partial<OrderInput>): OrderInput => ({
  symbol: 'AAA', side: 'BUY', type: 'LIMIT', tif: 'GTC', price: 1000n, qty: 5n, coid: '', postOnly: false, stp: 'CANCEL_NEWEST', ...o,
});
const key = (m: StreamExecutionsResponse) => `${ExecutionType[m.type]}:${m.order?.orderId ?? ''}:${m.fill?.fillId ?? ''}`;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(25);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('own executions only, live; a resumed stream continues without gaps or repeats', async () => {
  const e = engine();
  const full = subscribe('alice');
  await full.ready;
  const part = subscribe('alice');
  await part.ready;
  await e.place('bob', order({ side: 'SELL', qty: 10n }));
  const a1 = await e.place('alice', order({ qty: 4n }));
  await e.place('alice', order({ symbol: 'CCC', price: 100n, qty: 3n }));
  await until(() => part.messages.length >= 3, 'first messages');
  const cut = part.messages[part.messages.length - 1]!.cursor;
  const seen = part.messages.map(key);
  part.cancel();
  await e.place('alice', order({ qty: 6n, tif: 'IOC' })); // fills 6 of bob's remaining 6
  await e.cancel('alice', { orderId: `CCC:1` });
  await e.place('bob', order({ symbol: 'BBB', side: 'SELL', qty: 10n }));
  await until(() => full.messages.length >= 6, 'all messages');
  const resumed = subscribe('alice', cut);
  await until(() => seen.length + resumed.messages.length >= full.messages.length, 'the resumed stream');
  await sleep(200); // and nothing more arrives (no repeats)
  assert.deepEqual([...seen, ...resumed.messages.map(key)], full.messages.map(key));
  assert.deepEqual(full.messages.map((m) => ExecutionType[m.type]), ['ACCEPTED', 'FILL', 'ACCEPTED', 'ACCEPTED', 'FILL', 'CANCELED']);
  assert.ok(full.messages.every((m) => m.order?.orderId?.length));
  const fill = full.messages[1]!;
  assert.equal(fill.fill!.orderId, a1.order.id);
  assert.equal(fill.order!.filledLots, 4n);
  full.cancel();
  resumed.cancel();
  await sleep(100);
});

test('bad cursor, malformed request and the subscriber limit', async () => {
  const bad = subscribe('alice', 'not-a-cursor');
  assert.equal((await bad.status).code, grpc.status.INVALID_ARGUMENT);
  const md = new grpc.Metadata();
  md.set('account', 'x');
  const raw = client.makeServerStreamRequest(PATH, identity, identity, Buffer.from([0x0a, 0xff]), md, { deadline: Date.now() + STREAM_DEADLINE_MS });
  raw.on('error', () => undefined);
  const st = await new Promise<grpc.StatusObject>((res) => raw.on('status', res));
  assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
  const subs = [subscribe('a'), subscribe('b'), subscribe('c')];
  await Promise.all(subs.map((x) => x.ready));
  const extra = subscribe('d');
  assert.equal((await extra.status).code, grpc.status.RESOURCE_EXHAUSTED);
  for (const s of subs) s.cancel();
});
