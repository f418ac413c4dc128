/**
 * The book operations run as a Redis Functions library (src/shared/book-library.ts): loaded
 * on every master at a connection's first call, loaded again where a node lost it (FUNCTION
 * FLUSH, a restart without persistence), each FCALL sent straight to its book's master, and
 * old versions pruned by `tierbook functions prune`.
 * Runs on one Redis and, in the cluster leg of `npm test`, on a 3-master Redis Cluster.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { instrumentKey } from '../../src/domain/matching/keys.js';
import {
  AmendOrderRequestSchema, AmendOrderResponseSchema, CancelOrderRequestSchema, CancelOrderResponseSchema,
  PlaceOrderRequestSchema, PlaceOrderResponseSchema,
} from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, OrderType, Side } from '../../src/gen/tierbook/v1/types_pb.js';
import { bookLibrariesOn, bookLibrary } from '../../src/shared/book-library.js';
import { masters } from '../../src/shared/redis.js';
import { sweepFinishedOrders } from '../../src/sync/order-sweeper.js';
import type { WorkerContext } from '../../src/workers/handler.js';
import { tierbookCli } from '../support/stack-cli.js';
import { ON_CLUSTER, startSwitchableRedis, type SwitchableRedis } from '../support/test-redis.js';
import { call, exchangeFactory, ok } from './harness.js';

let srv: SwitchableRedis;
const ex = exchangeFactory(() => srv.url);
before(async () => { srv = await startSwitchableRedis(); });
after(async () => { ex.closeAll(); await srv.stop(); });

const place = async (ctx: WorkerContext, symbol = 'AAA', clientOrderId = '') => ok(await call(ctx, 'PlaceOrder', PlaceOrderRequestSchema,
  { symbol, side: Side.BUY, type: OrderType.LIMIT, priceTicks: symbol === 'CCC' ? 100n : 1000n, quantityLots: symbol === 'BBB' ? 20n : 2n, clientOrderId },
  PlaceOrderResponseSchema, 'alice'));

/** The tierbook libraries loaded on each master. */
async function librariesPerMaster(redis: Redis): Promise<string[][]> {
  return Promise.all((await masters(redis)).map(bookLibrariesOn));
}

async function functionFlush(redis: Redis): Promise<void> {
  await Promise.all((await masters(redis)).map((node) => node.call('FUNCTION', 'FLUSH')));
}

test('a fresh Redis: the first PlaceOrder loads the library on every master', async () => {
  const ctx = await ex.fresh();
  assert.ok((await librariesPerMaster(ctx.redis)).every((libs) => libs.length === 0), 'nothing loaded before the first call');
  const first = await place(ctx);
  assert.equal(first.order!.status, OrderStatus.NEW);
  const { name } = bookLibrary();
  assert.match(name, /^tierbook_[0-9a-f]{12}$/);
  for (const libs of await librariesPerMaster(ctx.redis)) assert.deepEqual(libs, [name]);

  // Another connection (another thread or process of the same version) loads nothing new.
  const other = await ex.fresh();
  await Promise.all([place(other), place(other, 'CCC'), place(other, 'BBB')]);
  for (const libs of await librariesPerMaster(ctx.redis)) assert.deepEqual(libs, [name]);
});

test('after FUNCTION FLUSH every book operation loads the library again and succeeds', async () => {
  const ctx = await ex.fresh();
  const resting = await place(ctx, 'AAA', 'keep');
  const amended = await place(ctx, 'CCC');

  await functionFlush(ctx.redis);
  // Several calls at once find the library gone: each is answered, none runs twice.
  const [p1, p2] = await Promise.all([place(ctx, 'BBB'), place(ctx, 'AAA', 'keep')]);
  assert.equal(p1.order!.status, OrderStatus.NEW);
  assert.deepEqual(p2, resting, 'the retry of a client order id answers the first result');

  await functionFlush(ctx.redis);
  const a = ok(await call(ctx, 'AmendOrder', AmendOrderRequestSchema, { orderId: amended.order!.orderId, newQuantityLots: 1n },
    AmendOrderResponseSchema, 'alice'));
  assert.equal(a.order!.quantityLots, 1n);

  await functionFlush(ctx.redis);
  const c = ok(await call(ctx, 'CancelOrder', CancelOrderRequestSchema, { clientOrderId: 'keep' }, CancelOrderResponseSchema, 'alice'));
  assert.equal(c.order!.status, OrderStatus.CANCELED);

  // The sync's retention sweep is a function of the same library.
  await functionFlush(ctx.redis);
  await new Promise((resolve) => setTimeout(resolve, 5)); // the cancel is older than the bound (now)
  const removed = await sweepFinishedOrders(ctx.redis, 'AAA', Date.now() + 60_000, { retentionMs: 0, idempotencyWindowMs: 60_000 });
  assert.equal(removed, 1);
  for (const libs of await librariesPerMaster(ctx.redis)) assert.deepEqual(libs, [bookLibrary().name]);
});

// The library keeps a call's book state (id counters, last price) in upvalues that every
// call on the same Redis shares: a call that reads none of it must not write another book's.
test("a call on one book never writes what the call before it kept for another book", async () => {
  const ctx = await ex.fresh();
  const first = [await place(ctx, 'BBB', 'b1'), await place(ctx, 'BBB'), await place(ctx, 'BBB')];
  assert.deepEqual(first.map((r) => r.order!.orderId), ['BBB:1', 'BBB:2', 'BBB:3']);
  await place(ctx, 'AAA'); // takes AAA's next order id and sequence number
  // Neither a retry nor a cancel takes an id: both leave BBB's counters alone.
  assert.equal((await place(ctx, 'BBB', 'b1')).order!.orderId, 'BBB:1');
  await place(ctx, 'AAA');
  ok(await call(ctx, 'CancelOrder', CancelOrderRequestSchema, { orderId: 'BBB:2' }, CancelOrderResponseSchema, 'alice'));
  const next = await place(ctx, 'BBB');
  assert.equal(next.order!.orderId, 'BBB:4', 'a fresh id, not one of AAA\'s counters');
  assert.equal(next.order!.status, OrderStatus.NEW);
  const kept = ok(await call(ctx, 'CancelOrder', CancelOrderRequestSchema, { orderId: 'BBB:3' }, CancelOrderResponseSchema, 'alice'));
  assert.equal(kept.order!.quantityLots, 20n, 'BBB:3 is still the order placed as BBB:3');
});

test("each FCALL goes straight to its book's master (no redirection)", async () => {
  const ctx = await ex.fresh();
  await place(ctx); // loaded
  const nodes = await masters(ctx.redis);
  await Promise.all(nodes.map((n) => n.config('RESETSTAT')));
  const books = ['AAA', 'BBB', 'CCC'];
  for (const symbol of books) await place(ctx, symbol);

  const expected = new Map<string, number>();
  for (const symbol of books) {
    const slot = Number(await ctx.redis.call('CLUSTER', 'KEYSLOT', instrumentKey(symbol)).catch(() => 0));
    const owner = nodes.length === 1 ? nodes[0]! : nodes.find((n) => ownsSlot(ctx.redis, n, slot))!;
    const at = `${owner.options.host}:${owner.options.port}`;
    expected.set(at, (expected.get(at) ?? 0) + 1);
  }
  for (const node of nodes) {
    const stats = /cmdstat_fcall:calls=(\d+),.*rejected_calls=(\d+),failed_calls=(\d+)/.exec(await node.info('commandstats'));
    const at = `${node.options.host}:${node.options.port}`;
    assert.deepEqual(stats ? stats.slice(1).map(Number) : [0, 0, 0], [expected.get(at) ?? 0, 0, 0], `FCALLs at ${at}`);
  }
});

/** Whether a cluster master serves `slot`, from the client's slot table. */
function ownsSlot(redis: Redis, node: Redis, slot: number): boolean {
  const slots = (redis as unknown as { slots: string[][] }).slots;
  return slots[slot]?.[0] === `${node.options.host}:${node.options.port}`;
}

test('a master that refuses the library does not stop the books of the others', {
  skip: ON_CLUSTER ? false : 'needs several masters: runs in the cluster leg',
}, async () => {
  const ctx = await ex.fresh();
  await functionFlush(ctx.redis);
  const nodes = await masters(ctx.redis);
  const at = (n: Redis) => `${n.options.host}:${n.options.port}`;
  const ownerOf = async (symbol: string) => {
    const slot = Number(await ctx.redis.call('CLUSTER', 'KEYSLOT', instrumentKey(symbol)));
    return nodes.find((n) => ownsSlot(ctx.redis, n, slot))!;
  };
  const refusing = await ownerOf('AAA');
  let other: string | undefined;
  for (const s of ['BBB', 'CCC']) if (at(await ownerOf(s)) !== at(refusing)) other = s;
  assert.ok(other, 'a book on another master');
  await refusing.call('ACL', 'SETUSER', 'default', '-function'); // FUNCTION LOAD: NOPERM there
  try {
    assert.equal((await place(ctx, other)).order!.status, OrderStatus.NEW, 'the other masters took the library');
    assert.ok(await call(ctx, 'PlaceOrder', PlaceOrderRequestSchema, { symbol: 'AAA', side: Side.BUY, type: OrderType.LIMIT,
      priceTicks: 1000n, quantityLots: 2n }, PlaceOrderResponseSchema, 'alice').then((r) => r instanceof Error, () => true),
    'the book on the refusing master fails');
  } finally {
    await refusing.call('ACL', 'SETUSER', 'default', '+function');
  }
  assert.equal((await place(ctx)).order!.status, OrderStatus.NEW, 'loaded there once it accepts');
});

/** An older build's library: same shape, another source hash. */
const OLD = '0123456789ab';
const oldLibrary = `#!lua name=tierbook_${OLD}\nredis.register_function('tierbook_place_${OLD}', function(keys, args) return 'old' end)\n`;

const prune = () => tierbookCli({ ...process.env, TIERBOOK_REDIS_URL: srv.url, TIERBOOK_LOG_LEVEL: 'silent' }, ['functions', 'prune']);

test('`tierbook functions prune` deletes old library versions on every master, keeps this one, and the books go on', async () => {
  const ctx = await ex.fresh();
  await functionFlush(ctx.redis);
  await place(ctx);
  const { name } = bookLibrary();
  const nodes = await masters(ctx.redis);
  for (const node of nodes) await node.call('FUNCTION', 'LOAD', oldLibrary);
  for (const libs of await librariesPerMaster(ctx.redis)) assert.deepEqual(libs, [`tierbook_${OLD}`, name].sort());

  const pruned = await prune();
  assert.equal(pruned.code, 0, pruned.out);
  const lines = pruned.out.trim().split('\n');
  assert.match(lines[0]!, /^master\s+kept\s+deleted$/);
  assert.equal(lines.filter((l) => l.includes(`tierbook_${OLD}`) && l.includes(name)).length, nodes.length, pruned.out);
  assert.equal(lines.at(-1), `deleted ${nodes.length} old librar${nodes.length === 1 ? 'y' : 'ies'} on ${nodes.length} master${nodes.length === 1 ? '' : 's'}`);
  for (const libs of await librariesPerMaster(ctx.redis)) assert.deepEqual(libs, [name], 'only this build\'s library is left');
  assert.equal((await place(ctx, 'BBB')).order!.status, OrderStatus.NEW, 'the book functions still answer');

  const again = await prune();
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /deleted 0 old libraries on \d+ masters?$/m);
});
