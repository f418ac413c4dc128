/**
 * Size limits hold the same way through nginx and directly at the gateway: an oversize
 * request is RESOURCE_EXHAUSTED (never a dropped connection), a batch over
 * TIERBOOK_MAX_BATCH_ORDERS is BATCH_TOO_LARGE, a page over the maximum is INVALID_ARGUMENT.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import { startTestStack, type TestStack } from '../support/stack.js';
import { expectError } from '../support/grpc-client.js';
import { ListOrdersRequestSchema, ListOrdersResponseSchema, OrderService, PlaceOrdersRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderClient, restingBuy } from './support.js';
import { grpcFrame, rawCall, rawSession } from './raw-h2.js';

const MAX_BYTES = 64 * 1024;

describe('message, batch and page limits', () => {
  let stack: TestStack;
  let apiKey: string;

  before(async () => {
    stack = await startTestStack({ env: { TIERBOOK_MAX_MESSAGE_BYTES: String(MAX_BYTES), TIERBOOK_MAX_BATCH_ORDERS: '100' } });
    apiKey = (await stack.createAccount('ELITE')).apiKey;
  });

  after(async () => {
    await stack?.stop();
  });

  const targets = () => [
    ['gateway', stack.gatewayTarget],
    ['nginx', stack.target],
  ] as const;

  it('answers an oversize request with RESOURCE_EXHAUSTED and keeps the connection serving', async () => {
    for (const [name, target] of targets()) {
      const c = OrderClient.of(target, apiKey);
      try {
        // ~2,000 orders of ~60 bytes: about twice the limit.
        const big = Array.from({ length: 2_000 }, () => restingBuy());
        const e = await expectError(c.placeMany(big));
        assert.equal(e.code, 8, `${name}: expected RESOURCE_EXHAUSTED, got ${e.code} ${e.message}`);
        // The same connection still serves the next call.
        await c.place(restingBuy());
      } finally {
        c.close();
      }
    }
  });

  it('accepts a request just under the limit on both paths', async () => {
    for (const [name, target] of targets()) {
      const c = OrderClient.of(target, apiKey);
      try {
        // A symbol just short of the limit: the gateway decodes it and refuses the symbol,
        // which proves the bytes arrived (nginx's limit is not tighter than grpc-js's).
        const symbol = 'X'.repeat(MAX_BYTES - 100);
        const e = await expectError(c.place(restingBuy({ symbol })));
        assert.equal(e.code, 3, `${name}: got ${e.code} ${e.message}`);
      } finally {
        c.close();
      }
    }
  });

  it('refuses a frame that declares more than the limit without reading it', async () => {
    for (const [name, target] of targets()) {
      const session = rawSession(target);
      try {
        const body = grpcFrame(Buffer.alloc(16), MAX_BYTES + 1);
        const reply = await rawCall(session, '/tierbook.v1.OrderService/PlaceOrders', body, { authorization: `Bearer ${apiKey}` });
        assert.equal(reply.grpcStatus, 8, `${name}: got ${reply.grpcStatus} ${reply.grpcMessage}`);
      } finally {
        session.close();
      }
    }
  });

  it('refuses a batch over the order limit with BATCH_TOO_LARGE on both paths', async () => {
    for (const [name, target] of targets()) {
      const c = OrderClient.of(target, apiKey);
      try {
        const e = await expectError(c.placeMany(Array.from({ length: 101 }, () => restingBuy())));
        assert.equal(e.code, 3, `${name}: ${e.message}`);
        assert.equal(e.reason, 'BATCH_TOO_LARGE');
        const ok = await c.placeMany(Array.from({ length: 100 }, () => restingBuy()));
        assert.equal(ok.results.length, 100);
      } finally {
        c.close();
      }
    }
  });

  it('refuses a page size over the maximum with INVALID_ARGUMENT', async () => {
    const c = OrderClient.of(stack.target, apiKey);
    try {
      const e = await expectError(c.client.unary(OrderService, 'ListOrders', ListOrdersRequestSchema, ListOrdersResponseSchema, { pageSize: 501 }));
      assert.equal(e.code, 3);
      assert.equal(e.reason, 'INVALID_FIELD');
      assert.equal(e.metadata.field, 'page_size');
    } finally {
      c.close();
    }
    // Keeps the helpers honest: the encoded batch of the first test really is over the limit.
    const bytes = toBinary(PlaceOrdersRequestSchema, create(PlaceOrdersRequestSchema, { orders: Array.from({ length: 2_000 }, () => restingBuy()) }));
    assert.ok(bytes.length > MAX_BYTES);
  });
});
