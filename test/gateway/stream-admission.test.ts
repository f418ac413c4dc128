/**
 * TIERBOOK_MAX_STREAMS at the real gateway, through nginx: streams opened all at once on a
 * fresh gateway (its live reader not yet started) are admitted up to the bound and no
 * further. Admission used to check the bound, await the reader's start, then count the
 * stream, so 12 streams opened at once against a bound of 3 let 5 in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { StreamExecutionsRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { callError, type CallError } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { OrderClient, restingBuy } from '../protection/support.js';

const PATH = '/tierbook.v1.OrderService/StreamExecutions';
const MAX_STREAMS = 3;
const OPENED = 12;
const identity = (b: Buffer) => b;

interface OpenStream {
  /** Messages received: an admitted stream gets the account's executions. */
  received: number;
  /** Set when the stream ended (a refusal, or anything else). */
  ended?: CallError;
  cancel(): void;
}

describe('stream admission (TIERBOOK_MAX_STREAMS)', () => {
  let stack: TestStack;
  let client: grpc.Client;
  let orders: OrderClient;
  let apiKey: string;

  before(async () => {
    stack = await startTestStack({ env: { TIERBOOK_MAX_STREAMS: String(MAX_STREAMS), TIERBOOK_RATE_LIMIT_ELITE: '0' } });
    apiKey = (await stack.createAccount('ELITE')).apiKey;
    client = new grpc.Client(stack.target, grpc.credentials.createInsecure());
    orders = OrderClient.of(stack.target, apiKey);
  });

  after(async () => {
    client?.close();
    orders?.close();
    await stack?.stop();
  });

  function open(): OpenStream {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${apiKey}`);
    const req = Buffer.from(toBinary(StreamExecutionsRequestSchema, create(StreamExecutionsRequestSchema, {})));
    // Every stream has a deadline: a stream that is neither refused nor served fails the test
    // instead of hanging it.
    const call = client.makeServerStreamRequest(PATH, identity, identity, req, md, { deadline: Date.now() + 30_000 });
    const s: OpenStream = { received: 0, cancel: () => call.cancel() };
    call.on('data', () => (s.received += 1));
    call.on('error', (err) => (s.ended = callError(err)));
    return s;
  }

  /** Places orders until every stream is either refused or has seen an execution. */
  async function settle(streams: OpenStream[]): Promise<void> {
    const settled = () => streams.every((s) => s.ended || s.received > 0);
    for (let i = 0; i < 100 && !settled(); i++) {
      await orders.place(restingBuy());
      await sleep(50);
    }
  }

  it(`admits exactly ${MAX_STREAMS} of ${OPENED} streams opened at once; the rest get RESOURCE_EXHAUSTED`, async () => {
    const streams = Array.from({ length: OPENED }, open);
    try {
      await settle(streams);
      const live = streams.filter((s) => !s.ended && s.received > 0);
      const refused = streams.filter((s) => s.ended);
      const summary = JSON.stringify(streams.map((s) => s.ended ? `${s.ended.code}/${s.ended.reason}` : `live:${s.received}`));
      assert.equal(live.length, MAX_STREAMS, `admitted streams: ${summary}`);
      assert.equal(refused.length, OPENED - MAX_STREAMS, summary);
      for (const r of refused) {
        assert.equal(r.ended!.code, grpc.status.RESOURCE_EXHAUSTED, summary);
        assert.equal(r.ended!.reason, 'TOO_MANY_STREAMS', summary);
      }
    } finally {
      for (const s of streams) s.cancel();
    }
  });

  it('gives a slot back when a stream ends, and only once', async () => {
    // Slots of cancelled streams come back (the gateway learns of a cancel a moment later, so
    // a batch may retry), and never more than the bound is handed out, however many streams
    // have ended or been refused before: a slot given back twice would let a fourth in.
    const seen: number[] = [];
    for (let full = 0, attempt = 0; full < 3 && attempt < 60; attempt++) {
      const streams = Array.from({ length: MAX_STREAMS + 2 }, open);
      try {
        await settle(streams);
        const live = streams.filter((s) => !s.ended && s.received > 0).length;
        seen.push(live);
        if (live === MAX_STREAMS) full += 1;
        else await sleep(100);
      } finally {
        for (const s of streams) s.cancel();
      }
    }
    assert.ok(seen.every((n) => n <= MAX_STREAMS), `never more than ${MAX_STREAMS} at once: ${seen.join(',')}`);
    assert.equal(seen.filter((n) => n === MAX_STREAMS).length, 3, `the slots came back: ${seen.join(',')}`);
  });
});
