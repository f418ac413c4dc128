import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateInstrument, validateInstruments, priceBand } from '../../src/domain/matching/instrument.js';
import { loadInstrumentsFile } from '../../src/workers/orders/instruments-store.js';
import { fromRoot } from '../../src/shared/paths.js';
import { writeInstruments, TEST_INSTRUMENTS } from './harness.js';

const good = TEST_INSTRUMENTS[0]!;

test('the shipped config/instruments.json is valid', () => {
  const list = loadInstrumentsFile(fromRoot('config', 'instruments.json'));
  assert.ok(list.length >= 1);
});

test('instrument validation names the field', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...good, symbol: 'a:b' }, /symbol must match/],
    [{ ...good, tickSize: 0 }, /tickSize must be positive/],
    [{ ...good, lotSize: 1.5 }, /lotSize must be a non-negative integer/],
    [{ ...good, minQty: 10, maxQty: 5 }, /minQty must not exceed maxQty/],
    [{ ...good, referencePriceTicks: 200000 }, /referencePriceTicks/],
    [{ ...good, bandBps: 10001 }, /bandBps/],
    [{ ...good, maxPriceTicks: 2 ** 40, maxQty: 2 ** 14 }, /2 \* maxPriceTicks \* maxQty .* below 2\^53/],
    [{ ...good, positionLimitLots: 2 ** 27 }, /positionLimitLots\^2/],
    [{ ...good, maxNotionalTicks: '9007199254740993' }, /maxNotionalTicks/],
  ];
  for (const [raw, msg] of bad) assert.throws(() => validateInstrument(raw, 'f[0]'), msg);
  assert.throws(() => validateInstruments([good, good], 'f'), /listed twice/);
  assert.throws(() => validateInstruments([], 'f'), /non-empty array/);
  const file = writeInstruments();
  writeFileSync(file, '{not json');
  assert.throws(() => loadInstrumentsFile(file), /instruments file .*JSON/);
});

test('price band rounds its half-width down', () => {
  assert.deepEqual(priceBand(1001n, 1000n), { lo: 901n, hi: 1101n });
  assert.deepEqual(priceBand(7n, 1000n), { lo: 7n, hi: 7n });
});
