/**
 * Issue 13, item 6: StreamExecutions says when it is live. Through nginx: the response
 * headers arrive before any event, with the cursor the stream starts from and the heartbeat
 * interval, and a quiet stream gets HEARTBEAT messages carrying its cursor.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutionType } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { HEARTBEAT_INTERVAL_HEADER, STREAM_CURSOR_HEADER } from '../../src/server/execution-stream.js';
import type { TestClient } from '../support/grpc-client.js';
import { eventually, place, startApiStack, subscribe, type ApiStack } from './support.js';

const HEARTBEAT_MS = 300;
let api: ApiStack;
let alice: TestClient;
let bob: TestClient;

before(async () => {
  api = await startApiStack({ env: { TIERBOOK_STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
  ({ client: alice } = await api.client('PRO'));
  ({ client: bob } = await api.client('PRO'));
});
after(async () => api?.stop());

test('the headers arrive before any event, with the starting cursor and the heartbeat interval', async () => {
  const s = subscribe(alice);
  const headers = await s.headers;
  assert.equal(s.messages.length, 0);
  assert.match(String(headers.get(STREAM_CURSOR_HEADER)[0]), /^[A-Za-z0-9_-]+$/);
  assert.equal(headers.get(HEARTBEAT_INTERVAL_HEADER)[0], String(HEARTBEAT_MS));
  s.cancel();
});

test('the header cursor is a resume point: resuming from it replays what happened since', async () => {
  const first = subscribe(alice);
  const cursor = String((await first.headers).get(STREAM_CURSOR_HEADER)[0]);
  first.cancel();
  const r = await place(alice, { priceTicks: 900n, quantityLots: 1n });
  const resumed = subscribe(alice, cursor);
  assert.equal((await resumed.headers).get(STREAM_CURSOR_HEADER)[0], cursor, 'a resumed stream starts where it was asked to');
  const got = await eventually('the replayed order', () => resumed.messages.filter((m) => m.type !== ExecutionType.HEARTBEAT), (ms) => ms.length >= 1);
  assert.deepEqual([got[0]!.type, got[0]!.order!.orderId], [ExecutionType.ACCEPTED, r.order!.orderId]);
  resumed.cancel();
});

test('a quiet stream gets heartbeats; their cursor moves past other accounts\' events', async () => {
  const s = subscribe(alice);
  const start = String((await s.headers).get(STREAM_CURSOR_HEADER)[0]);
  const beats = await eventually('two heartbeats', () => s.messages.filter((m) => m.type === ExecutionType.HEARTBEAT), (b) => b.length >= 2);
  for (const b of beats) assert.deepEqual([b.order, b.fill, b.cursor !== '', b.eventTime !== undefined], [undefined, undefined, true, true]);
  await place(bob, { priceTicks: 901n, quantityLots: 1n }); // not alice's: she gets no message about it
  const after = await eventually('a heartbeat past bob\'s order', () => s.messages.at(-1)!, (m) => m.type === ExecutionType.HEARTBEAT && m.cursor !== start);
  assert.ok(s.messages.every((m) => m.type === ExecutionType.HEARTBEAT), 'nothing but heartbeats');
  s.cancel();
  // Resuming from that heartbeat's cursor does not replay bob's event (it never would) nor anything else.
  const resumed = subscribe(alice, after.cursor);
  await resumed.headers;
  const next = await eventually('the resumed stream\'s first heartbeat', () => resumed.messages, (ms) => ms.length >= 1);
  assert.equal(next[0]!.type, ExecutionType.HEARTBEAT);
  assert.equal(next[0]!.cursor, after.cursor);
  resumed.cancel();
});
