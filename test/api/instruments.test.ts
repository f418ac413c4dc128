/**
 * Issue 13, item 3: InstrumentService.ListInstruments tells a client the grid, the limits and
 * where the price band stands now, through nginx, and grpcurl finds it by reflection alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import {
  InstrumentService, ListInstrumentsRequestSchema, ListInstrumentsResponseSchema,
} from '../../src/gen/tierbook/v1/instrument_service_pb.js';
import { Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { CACHE_MS } from '../../src/workers/instruments/list-instruments.js';
import { expectError, type TestClient } from '../support/grpc-client.js';
import { run, tool } from '../support/tools.js';
import { API_INSTRUMENTS, eventually, place, startApiStack, type ApiStack } from './support.js';

let api: ApiStack;
let alice: TestClient;
let bob: TestClient;
let aliceKey: string;

before(async () => {
  api = await startApiStack();
  ({ client: alice } = await api.client('PRO'));
  ({ client: bob } = await api.client('ELITE'));
  aliceKey = (await api.stack.createAccount('PRO', 'grpcurl')).apiKey;
});
after(async () => api?.stop());

const list = (symbols: string[] = []) =>
  alice.unary(InstrumentService, 'ListInstruments', ListInstrumentsRequestSchema, ListInstrumentsResponseSchema, { symbols });

test('lists every instrument, sorted, with the registry\'s grid and limits and the band around the reference price', async () => {
  const res = await list();
  assert.deepEqual(res.instruments.map((i) => i.symbol), ['AAA', 'BBB', 'CCC']);
  for (const i of res.instruments) {
    const cfg = API_INSTRUMENTS.find((c) => c.symbol === i.symbol)!;
    const half = (BigInt(cfg.referencePriceTicks) * BigInt(cfg.bandBps)) / 10_000n;
    assert.deepEqual(
      [i.tickSize, i.lotSize, i.minQuantityLots, i.maxQuantityLots, i.maxPriceTicks, i.maxNotionalTicks, i.positionLimitLots, i.priceBandBps],
      [cfg.tickSize, cfg.lotSize, cfg.minQty, cfg.maxQty, cfg.maxPriceTicks, cfg.maxNotionalTicks, cfg.positionLimitLots, cfg.bandBps].map(BigInt),
    );
    assert.deepEqual([i.referencePriceTicks, i.bandLowTicks, i.bandHighTicks, i.hasTraded],
      [BigInt(cfg.referencePriceTicks), BigInt(cfg.referencePriceTicks) - half, BigInt(cfg.referencePriceTicks) + half, false]);
  }
  assert.ok(res.readTime && Math.abs(Number(res.readTime.seconds) * 1000 - Date.now()) < 60_000);
});

test('the band follows the last trade, and its bounds are exactly what the matcher accepts', async () => {
  await place(bob, { symbol: 'CCC', side: Side.SELL, priceTicks: 120n, quantityLots: 1n });
  await place(alice, { symbol: 'CCC', priceTicks: 120n, quantityLots: 1n, timeInForce: TimeInForce.IOC });
  // CCC: 50% around the last trade 120 = 60..180; the answer may be CACHE_MS old.
  const ccc = await eventually('the new band', async () => (await list(['CCC'])).instruments[0]!, (i) => i.hasTraded);
  assert.deepEqual([ccc.referencePriceTicks, ccc.bandLowTicks, ccc.bandHighTicks], [120n, 60n, 180n]);
  assert.ok(CACHE_MS <= 1000);
  const atEdge = await place(alice, { symbol: 'CCC', priceTicks: ccc.bandHighTicks, quantityLots: 1n });
  assert.ok(atEdge.order!.orderId);
  const beyond = await expectError(place(alice, { symbol: 'CCC', priceTicks: ccc.bandHighTicks + 1n, quantityLots: 1n }));
  assert.equal(beyond.reason, 'PRICE_OUT_OF_BAND');
  assert.deepEqual([beyond.metadata.band_low_ticks, beyond.metadata.band_high_ticks], [String(ccc.bandLowTicks), String(ccc.bandHighTicks)]);
});

test('a symbols filter; an unlisted symbol is INVALID_ARGUMENT naming the element', async () => {
  assert.deepEqual((await list(['CCC', 'AAA'])).instruments.map((i) => i.symbol), ['AAA', 'CCC']);
  const err = await expectError(list(['AAA', 'NOPE']));
  assert.deepEqual([err.code, err.reason, err.metadata.field, err.metadata.symbol], [status.INVALID_ARGUMENT, 'UNKNOWN_SYMBOL', 'symbols[1]', 'NOPE']);
});

test('grpcurl finds InstrumentService by reflection and calls it through nginx', async () => {
  const services = await run(tool('grpcurl'), ['-plaintext', api.stack.target, 'list']);
  assert.equal(services.code, 0, services.stderr);
  assert.ok(services.stdout.split('\n').includes('tierbook.v1.InstrumentService'), services.stdout);
  const r = await run(tool('grpcurl'), ['-plaintext', '-H', `authorization: Bearer ${aliceKey}`, '-d', '{"symbols":["AAA"]}',
    api.stack.target, 'tierbook.v1.InstrumentService/ListInstruments']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { instruments: { symbol: string; tickSize: string; bandLowTicks: string }[] };
  assert.deepEqual([out.instruments[0]!.symbol, out.instruments[0]!.tickSize, out.instruments[0]!.bandLowTicks], ['AAA', '1', '800']);
});

test('bytes that are not a ListInstrumentsRequest are INVALID_ARGUMENT / MALFORMED_REQUEST', async () => {
  const err = await expectError(alice.rawUnary('/tierbook.v1.InstrumentService/ListInstruments', Buffer.from([0x0a, 0xff])));
  assert.deepEqual([err.code, err.reason], [status.INVALID_ARGUMENT, 'MALFORMED_REQUEST']);
});
