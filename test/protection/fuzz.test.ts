/**
 * Fuzzing every RPC: 10,000 random, edge-valued and byte-mutated requests (seeded, so a
 * failure replays), sent straight to the gateway with many in flight. Every one must get a
 * defined status (never INTERNAL, UNKNOWN or a dropped connection), the worker threads must
 * survive, the gateway must keep serving, and the books must stay consistent afterwards:
 * positions per symbol sum to zero and no book is crossed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type ClientReadableStream } from '@grpc/grpc-js';
import type { DescMessage } from '@bufbuild/protobuf';
import { startTestStack, type TestStack, type TestAccount } from '../support/stack.js';
import { callError, TestClient, type CallError } from '../support/grpc-client.js';
import { OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { AnalyticsService } from '../../src/gen/tierbook/v1/analytics_service_pb.js';
import { InstrumentService } from '../../src/gen/tierbook/v1/instrument_service_pb.js';
import { TIERS } from '../../src/domain/tiers.js';
import { bookTag } from '../../src/domain/matching/keys.js';
import { fuzzPayload, Rng } from './fuzz-messages.js';
import { OrderClient, restingBuy } from './support.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const TOTAL = Number(process.env.FUZZ_COUNT ?? 10_000);
const IN_FLIGHT = 64;
const SYMBOLS = ['AAPL', 'MSFT', 'BTC-USD'];

/**
 * UNAVAILABLE is a defined answer only with reason SYNC_BEHIND: an analytics read naming
 * (after_order) an order the sync, not running here, has not committed. Counted as this code.
 */
const SYNC_BEHIND = -status.UNAVAILABLE;
const codeOf = (e: CallError): number => (e.code === status.UNAVAILABLE && e.reason === 'SYNC_BEHIND' ? SYNC_BEHIND : e.code);

/** Statuses a client may see for bad input; anything else is a bug. */
const DEFINED = new Set<number>([
  status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.ALREADY_EXISTS, status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED, status.FAILED_PRECONDITION, status.OUT_OF_RANGE, status.UNAUTHENTICATED, SYNC_BEHIND,
]);

interface Target {
  path: string;
  input: DescMessage;
  streaming: boolean;
}

const targets: Target[] = [OrderService, AnalyticsService, InstrumentService].flatMap((svc) =>
  svc.methods.map((m) => ({ path: `/${svc.typeName}/${m.name}`, input: m.input, streaming: m.methodKind === 'server_streaming' })),
);

/** A server stream is opened, read for a moment and cancelled: CANCELLED is then ours. */
function streamOnce(client: TestClient, path: string, bytes: Uint8Array, md: Metadata): Promise<number> {
  return new Promise((resolve) => {
    const s: ClientReadableStream<Buffer> = client.raw.makeServerStreamRequest<Buffer, Buffer>(
      path, (b) => b, (b) => b, Buffer.from(bytes), md, { deadline: Date.now() + 10_000 },
    );
    const timer = setTimeout(() => s.cancel(), 50);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('status', (st) => {
      clearTimeout(timer);
      resolve(st.code);
    });
  });
}

describe('fuzzing every RPC', () => {
  let stack: TestStack;
  let accounts: TestAccount[];
  let client: TestClient;

  before(async () => {
    const env: Record<string, string> = { TIERBOOK_PREMIUM_QUEUE: '10000', TIERBOOK_SHARED_QUEUE: '10000' };
    for (const t of TIERS) {
      env[`TIERBOOK_RATE_LIMIT_${t}`] = '0';
      // Input handling is under test, not query latency: a cold Postgres must not time out.
      env[`TIERBOOK_PG_TIMEOUT_MS_${t}`] = '2000';
    }
    stack = await startTestStack({ withoutNginx: true, env });
    accounts = await Promise.all(TIERS.map((t) => stack.createAccount(t)));
    client = new TestClient(stack.gatewayTarget);
  });

  after(async () => {
    client?.close();
    await stack?.stop();
  });

  it(`answers ${TOTAL} hostile requests with defined statuses and stays consistent`, { timeout: 180_000 }, async () => {
    const rng = new Rng(SEED);
    const seen = new Map<string, Map<number, number>>();
    const bad: string[] = [];
    let next = 0;
    const one = async (i: number) => {
      const t = rng.pick(targets);
      const payload = fuzzPayload(rng, t.input);
      const md = new Metadata();
      // Mostly real accounts of every tier; sometimes no key or a forged one.
      const roll = rng.next();
      if (roll < 0.95) md.set('authorization', `Bearer ${rng.pick(accounts).apiKey}`);
      else if (roll < 0.98) md.set('authorization', rng.pick(['Bearer ', 'Bearer tb_forged', 'Basic abc', 'Bearer ' + 'x'.repeat(5000)]));
      let code: number;
      if (t.streaming) {
        code = await streamOnce(client, t.path, payload, md);
        if (code === status.CANCELLED) code = status.OK;
      } else {
        code = await new Promise<number>((resolve) => {
          client.raw.makeUnaryRequest<Buffer, Buffer>(t.path, (b) => b, (b) => b, Buffer.from(payload), md,
            { deadline: Date.now() + 10_000 }, (err) => resolve(err ? codeOf(callError(err)) : status.OK));
        });
      }
      const byCode = seen.get(t.path) ?? new Map<number, number>();
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
      seen.set(t.path, byCode);
      if (!DEFINED.has(code) && bad.length < 20) {
        bad.push(`#${i} ${t.path} -> ${code} (seed ${SEED}) payload ${Buffer.from(payload).toString('hex').slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < TOTAL) await one(next++);
    }));

    const summary = Object.fromEntries([...seen].map(([p, m]) => [p.split('/').pop(), Object.fromEntries(m)]));
    assert.deepEqual(bad, [], `undefined statuses:\n${bad.join('\n')}\n${JSON.stringify(summary)}`);
    assert.equal(seen.size, targets.length, 'every RPC was fuzzed');

    // The gateway still serves ordinary calls (a worker thread that died would also have
    // failed the calls running on it with INTERNAL, caught above).
    const c = OrderClient.of(stack.gatewayTarget, accounts[2]!.apiKey);
    try {
      const placed = await c.place(restingBuy());
      assert.equal((await c.getById(placed.order!.orderId)).order!.orderId, placed.order!.orderId);
    } finally {
      c.close();
    }

    // The books are consistent: every fill moved lots from one account to another.
    let fills = 0;
    for (const sym of SYMBOLS) {
      const keys = await stack.redis.keys(`${bookTag(sym)}:a:*:pos`);
      let sum = 0n;
      for (const k of keys) sum += BigInt((await stack.redis.hget(k, 'qty')) ?? '0');
      assert.equal(sum, 0n, `${sym}: positions sum to ${sum}`);
      // Price levels are sorted sets whose members are the prices.
      const [bid] = await stack.redis.zrevrange(`${bookTag(sym)}:px:B`, '0', '0');
      const [ask] = await stack.redis.zrange(`${bookTag(sym)}:px:S`, '0', '0');
      if (bid && ask) assert.ok(BigInt(bid) < BigInt(ask), `${sym} book crossed: ${bid} >= ${ask}`);
      fills += Number((await stack.redis.hget(`${bookTag(sym)}:state`, 'fill')) ?? 0);
    }
    assert.ok(fills > 0, 'the fuzz run traded, so the consistency checks checked something');
    console.log(`fuzz seed ${SEED}: ${fills} fills; ${JSON.stringify(summary)}`);
  });
});
