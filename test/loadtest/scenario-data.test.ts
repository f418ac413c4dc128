import { fromBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listen } from '../../loadtest/baseline/echo-server.js';
import { reflectionFor } from '../../src/server/reflection.js';
import { resolveGhzConfig } from '../../loadtest/ghz-config.js';
import { findGhz, runGhz } from '../../loadtest/ghz-process.js';
import { listScenarios, loadScenario } from '../../loadtest/scenario.js';
import { file_tierbook_v1_order_service, PlaceOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { projectRoot } from '../../src/shared/paths.js';
import { needs } from '../support/required-tool.js';

/**
 * The scenarios' ghz templates produce valid, varied orders: a server that records what ghz
 * sends decodes every request, sees both sides, prices on tick around the mid, quantities on
 * lot, and unique client order ids under the run's prefix.
 */

const ghz = findGhz(projectRoot);
const identity = (b: Buffer) => b;

describe('scenario manifests', () => {
  it('all load, and each scenario\'s shares add up to 1', () => {
    for (const name of listScenarios(projectRoot)) {
      const s = loadScenario(projectRoot, name);
      const shares = s.streams.filter((x) => x.fixedRps === undefined).reduce((n, x) => n + (x.share ?? 0), 0);
      assert.ok(Math.abs(shares - 1) < 1e-9, `${name}: shares add up to ${shares}`);
    }
  });
});

describe('order data templates', { skip: needs('ghz', Boolean(ghz), 'npm run loadtest installs it') }, () => {
  it('vary side, price and client order id, and decode as PlaceOrderRequest', async () => {
    const seen: Buffer[] = [];
    const server = new grpc.Server();
    server.addService(
      { PlaceOrder: { path: '/tierbook.v1.OrderService/PlaceOrder', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
      { PlaceOrder: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => (seen.push(call.request), cb(null, Buffer.alloc(0))) },
    );
    reflectionFor([file_tierbook_v1_order_service]).addToServer(server);
    const port = await listen(server, '127.0.0.1', 0);
    const dir = mkdtempSync(join(tmpdir(), 'tierbook-ghzdata-'));
    try {
      const scenario = loadScenario(projectRoot, 'mixed-orders');
      for (const name of ['premium-maker', 'premium-taker']) {
        const stream = scenario.streams.find((s) => s.name === name)!;
        const config = resolveGhzConfig(projectRoot, stream, 'lt1', { symbol: 'MSFT', midTicks: 20_000, tick: 5, qtyUnit: 10, qtyMax: 5 }, {
          host: `127.0.0.1:${port}`, rps: 200, durationSec: 1, connections: 2, concurrency: 4, output: join(dir, `${name}.json`),
        });
        const r = await runGhz(ghz!, join(dir, `${name}.config.json`), config, 1);
        assert.equal(r.statusCodeDistribution.OK, r.count);
      }
      const orders = seen.map((b) => fromBinary(PlaceOrderRequestSchema, b));
      assert.ok(orders.length >= 300, `only ${orders.length} requests arrived`);
      // Tick 5, quantity unit 10 (lot 10): every price and quantity must be a multiple.
      assert.ok(orders.every((o) => o.symbol === 'MSFT' && o.quantityLots >= 10n && o.quantityLots <= 50n && o.quantityLots % 10n === 0n));
      assert.ok(orders.every((o) => o.priceTicks % 5n === 0n), 'a price off tick');
      assert.ok(orders.some((o) => o.side === Side.BUY) && orders.some((o) => o.side === Side.SELL));
      assert.ok(orders.some((o) => o.timeInForce === TimeInForce.IOC) && orders.some((o) => o.timeInForce === TimeInForce.GTC));
      const prices = new Set(orders.map((o) => o.priceTicks));
      assert.ok(prices.size > 20, `only ${prices.size} distinct prices`);
      assert.ok(orders.every((o) => o.priceTicks >= 20_000n - 150n * 5n && o.priceTicks <= 20_000n + 150n * 5n));
      const ids = orders.map((o) => o.clientOrderId);
      assert.equal(new Set(ids).size, ids.length, 'client order ids repeat');
      assert.ok(ids.every((id) => /^lt1-premium-(maker|taker)-\d+$/.test(id) && id.length <= 64));
    } finally {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
