/**
 * Front-door isolation (issue 6): premium-only gateway processes behind their own nginx port.
 * A premium account is served there; a LITE or PRO key is refused with PERMISSION_DENIED
 * (reason PREMIUM_ENDPOINT_ONLY) for unary calls and streams alike, so a shared-tier client
 * cannot load the processes premium calls run on; the main port still serves every tier.
 * Real Redis, Postgres and nginx; two gateways in this process, one of each role.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { startTestStack, type TestAccount, type TestStack } from '../support/stack.js';
import { callError, expectError, TestClient } from '../support/grpc-client.js';
import { freePort } from '../../src/devstack/ports.js';
import { startNginx } from '../../src/devstack/nginx.js';
import { startGateway, type RunningGateway } from '../../src/server/gateway-process.js';
import { createLogger } from '../../src/shared/logger.js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema, StreamExecutionsRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { rpcCount } from '../support/rpc-count.js';
import { accountBookKey } from '../../src/domain/matching/keys.js';

const restingBuy = (n: number) => ({
  symbol: 'AAPL', side: Side.BUY, type: OrderType.LIMIT, timeInForce: TimeInForce.GTC, priceTicks: BigInt(1_800_000 + n), quantityLots: 1n,
});

/** PlaceOrder calls this gateway has answered OK, from its own metrics. */
const placedOk = (gateway: RunningGateway) => rpcCount(gateway, { method: 'OrderService/PlaceOrder', code: 'OK' });

describe('premium endpoint', () => {
  let stack: TestStack;
  let premiumGateway: RunningGateway;
  let nginx: { stop(): Promise<void> };
  let nginxDir: string;
  let premiumTarget: string;
  let elite: TestAccount;
  let pro: TestAccount;

  before(async () => {
    stack = await startTestStack({ withoutNginx: true });
    premiumGateway = await startGateway(stack.config, createLogger(stack.config), 0, 'premium-test', 'premium');
    const premiumPort = await freePort();
    nginxDir = mkdtempSync(join(tmpdir(), 'tierbook-nginx-'));
    chmodSync(nginxDir, 0o755);
    nginx = await startNginx({
      dir: nginxDir, port: stack.config.nginxPort, upstreamPorts: [stack.gateway.port], maxMessageBytes: stack.config.gateway.maxMessageBytes,
      premium: { port: premiumPort, upstreamPorts: [premiumGateway.port] },
    });
    premiumTarget = `127.0.0.1:${premiumPort}`;
    [elite, pro] = await Promise.all([stack.createAccount('ELITE'), stack.createAccount('PRO')]);
  });

  after(async () => {
    await nginx?.stop();
    await premiumGateway?.shutdown();
    await stack?.stop();
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  });

  it('serves a premium account on the premium port, on the premium-only process', async () => {
    const client = new TestClient(premiumTarget, elite.apiKey);
    const [premiumBefore, generalBefore] = [await placedOk(premiumGateway), await placedOk(stack.gateway)];
    for (let i = 0; i < 5; i++) {
      const res = await client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, restingBuy(i));
      assert.ok(res.order?.orderId);
    }
    client.close();
    assert.equal((await placedOk(premiumGateway)) - premiumBefore, 5, 'nginx sent premium-port calls to the premium process');
    assert.equal((await placedOk(stack.gateway)) - generalBefore, 0, 'and none to the general one');
  });

  it('refuses a PRO key on the premium port with PERMISSION_DENIED that names the right endpoint', async () => {
    const client = new TestClient(premiumTarget, pro.apiKey);
    const clientOrderId = `refused-${Date.now()}`;
    const deniedBefore = await rpcCount(premiumGateway, { method: 'OrderService/PlaceOrder', code: 'PERMISSION_DENIED', tier: 'PRO' });
    const e = await expectError(client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, { ...restingBuy(9), clientOrderId }));
    client.close();
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.equal(e.reason, 'PREMIUM_ENDPOINT_ONLY');
    assert.match(e.message, /ELITE and BLACK.*PRO account uses the main endpoint/);
    // The premium process saw the call and refused it (not nginx, not a lost connection).
    assert.equal(await rpcCount(premiumGateway, { method: 'OrderService/PlaceOrder', code: 'PERMISSION_DENIED', tier: 'PRO' }) - deniedBefore, 1);
    // Nothing was placed for it: the order is unknown on the main port, where the PRO key
    // is served, and the account has no orders on the book.
    const main = new TestClient(stack.target, pro.apiKey);
    const missing = await expectError(main.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { clientOrderId }));
    main.close();
    assert.equal(missing.code, status.NOT_FOUND);
    assert.equal(await stack.redis.exists(accountBookKey('AAPL', pro.accountId, 'all')), 0);
  });

  it('refuses a PRO key on the premium port for StreamExecutions too', async () => {
    const client = new TestClient(premiumTarget, pro.apiKey);
    const bytes = Buffer.from(toBinary(StreamExecutionsRequestSchema, create(StreamExecutionsRequestSchema, {})));
    const err = await new Promise<unknown>((resolve) => {
      const call = client.raw.makeServerStreamRequest('/tierbook.v1.OrderService/StreamExecutions', (b: Buffer) => b, (b: Buffer) => b, bytes, client.metadata(), { deadline: Date.now() + 10_000 });
      call.on('data', () => resolve(new Error('the stream sent data')));
      call.on('error', resolve);
    });
    client.close();
    const e = callError(err);
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.equal(e.reason, 'PREMIUM_ENDPOINT_ONLY');
  });

  it('the main port still serves every tier, on the general process', async () => {
    const generalBefore = await placedOk(stack.gateway);
    for (const [i, a] of [pro, elite].entries()) {
      const client = new TestClient(stack.target, a.apiKey);
      const res = await client.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, restingBuy(20 + i));
      client.close();
      assert.ok(res.order?.orderId, `${a.tier} placed through the main port`);
    }
    assert.equal((await placedOk(stack.gateway)) - generalBefore, 2);
  });

  it('a premium-only process starts no shared worker threads', async () => {
    const parts = await premiumGateway.metrics.snapshot();
    const threads = parts.flat().find((m) => m.name === 'tierbook_pool_threads');
    const pools = (threads?.values ?? []).map((v) => (v.labels as Record<string, string>).pool);
    assert.deepEqual(pools, ['premium']);
  });
});
