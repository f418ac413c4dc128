/**
 * Seeded generators of hostile requests for any protobuf message, driven by its descriptor,
 * so every RPC is covered without a hand-written generator per message: plausible values
 * (listed symbols, prices near the reference, existing order ids of other accounts), edge
 * values (int64 bounds, unknown enum numbers, huge and odd strings), byte-level mutations of
 * valid encodings, and plain random bytes.
 */
import { ScalarType, toBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { create } from '@bufbuild/protobuf';
import { PlaceOrderRequestSchema, PlaceOrdersRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';

/** A small seeded PRNG (mulberry32): a failing run is replayed from its seed. */
export class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const SYMBOLS = ['AAPL', 'MSFT', 'BTC-USD', 'aapl', 'NOPE', ''];
const ODD_STRINGS = [
  '', ' ', 'AAPL:1', 'AAPL:2', 'MSFT:1', 'BTC-USD:3', 'AAPL:0', 'AAPL:-1', 'AAPL:99999999999999999999',
  ':', '::1', '{bk:AAPL}', '}{', '*', '\u0000', 'é', '\u{1F4A9}', '../../etc', 'x'.repeat(65), 'x'.repeat(3000),
  '%s%n', 'NaN', '-0', '1e309', 'null', 'undefined', '<script>', "'; DROP TABLE orders; --",
];
const INT64_EDGES = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 100n, 1_900_000n, 4_200_000n, 650_000_000n];
const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 100, 500, 501, 1000];

function scalar(rng: Rng, field: DescField, type: ScalarType): unknown {
  const name = field.name;
  switch (type) {
    case ScalarType.STRING:
      if (name === 'symbol' && rng.chance(0.7)) return rng.pick(SYMBOLS);
      if (rng.chance(0.5)) return rng.pick(ODD_STRINGS);
      return String.fromCharCode(...Array.from({ length: rng.int(24) }, () => 32 + rng.int(95)));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.BYTES:
      return rng.bytes(rng.int(32));
    case ScalarType.INT64: case ScalarType.SINT64: case ScalarType.SFIXED64:
      if (name.includes('price') && rng.chance(0.6)) return rng.pick([1_900_000n, 4_200_000n, 650_000_000n]) + BigInt(rng.int(2000) - 1000) * 5n;
      if (name.includes('quantity') && rng.chance(0.6)) return BigInt(1 + rng.int(20)) * 10n;
      return rng.chance(0.7) ? rng.pick(INT64_EDGES) : BigInt(rng.int(2 ** 31)) * BigInt(rng.int(2 ** 31)) * (rng.chance(0.5) ? 1n : -1n);
    case ScalarType.UINT64: case ScalarType.FIXED64:
      return rng.chance(0.5) ? 2n ** 64n - 1n : BigInt(rng.int(1_000_000));
    case ScalarType.INT32: case ScalarType.SINT32: case ScalarType.SFIXED32:
      return rng.chance(0.7) ? rng.pick(INT32_EDGES) : rng.int(2 ** 31) * (rng.chance(0.5) ? 1 : -1);
    case ScalarType.UINT32: case ScalarType.FIXED32:
      return rng.int(2 ** 32);
    default:
      return rng.pick([0, -1, 1.5, Number.MAX_VALUE, Number.NaN]);
  }
}

function enumValue(rng: Rng, field: DescField & { enum?: { values: { number: number }[] } }): number {
  // Mostly declared values; sometimes numbers no client should send.
  const values = field.enum?.values.map((v) => v.number) ?? [0];
  return rng.chance(0.85) ? rng.pick(values) : rng.pick([-1, 99, 2 ** 31 - 1]);
}

/** Fills a message with random field values (each field set with probability 0.8). */
export function randomMessage(rng: Rng, schema: DescMessage, depth = 0): ReflectMessage {
  const msg = reflect(schema);
  for (const field of schema.fields) {
    if (!rng.chance(0.8) || depth > 3) continue;
    switch (field.fieldKind) {
      case 'scalar':
        msg.set(field, scalar(rng, field, field.scalar));
        break;
      case 'enum':
        msg.set(field, enumValue(rng, field));
        break;
      case 'message':
        msg.set(field, randomMessage(rng, field.message, depth + 1));
        break;
      case 'list': {
        const list = msg.get(field);
        // Mostly short lists; sometimes past batch limits.
        const n = rng.chance(0.9) ? rng.int(5) : rng.pick([100, 101, 150]);
        for (let i = 0; i < n; i++) {
          if (field.listKind === 'scalar') list.add(scalar(rng, field, field.scalar));
          else if (field.listKind === 'enum') list.add(enumValue(rng, field));
          else list.add(randomMessage(rng, field.message, depth + 1));
        }
        msg.set(field, list);
        break;
      }
      case 'map':
        break; // No request message has a map.
    }
  }
  return msg;
}

/** Byte-level damage to a valid encoding: flips, cuts, insertions, lying lengths. */
export function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  let b = Array.from(bytes);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(6)) {
      case 0: if (b.length) b[at] = rng.int(256); break;
      case 1: b = b.slice(0, at); break;
      case 2: b.splice(at, 0, ...rng.bytes(1 + rng.int(8))); break;
      case 3: b.splice(at, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01); break;
      case 4: b = b.concat(b.slice(at)); break; // repeated fields and last-wins scalars
      default: b.push(rng.pick([0x0a, 0x12, 0x7a, 0xfa]), rng.int(256)); // a field with a lying length
    }
  }
  return Uint8Array.from(b);
}

/** Reference price, tick and lot of the listed instruments (config/instruments.json). */
const LISTED = [
  { symbol: 'AAPL', ref: 1_900_000n, tick: 1n, lot: 1n },
  { symbol: 'MSFT', ref: 4_200_000n, tick: 5n, lot: 1n },
  { symbol: 'BTC-USD', ref: 650_000_000n, tick: 100n, lot: 10n },
];

/** A valid order that may trade: prices straddle the reference so books cross and match. */
function plausibleOrder(rng: Rng) {
  const i = rng.pick(LISTED);
  return create(PlaceOrderRequestSchema, {
    symbol: i.symbol,
    side: 1 + rng.int(2),
    type: rng.chance(0.85) ? 1 : 2,
    timeInForce: rng.int(4),
    priceTicks: i.ref + BigInt(rng.int(21) - 10) * i.tick,
    quantityLots: BigInt(1 + rng.int(5)) * i.lot,
    clientOrderId: rng.chance(0.5) ? '' : `f${rng.int(300)}`,
    selfTradePrevention: rng.int(4),
  });
}

/** One fuzz payload for a request message: random values, a mutated encoding or noise. */
export function fuzzPayload(rng: Rng, schema: DescMessage): Uint8Array {
  // Orders that are valid enough to trade, so the consistency checks have fills to check.
  if (schema.typeName === PlaceOrderRequestSchema.typeName && rng.chance(0.4)) {
    return toBinary(PlaceOrderRequestSchema, plausibleOrder(rng));
  }
  if (schema.typeName === PlaceOrdersRequestSchema.typeName && rng.chance(0.3)) {
    const orders = Array.from({ length: 1 + rng.int(5) }, () => plausibleOrder(rng));
    return toBinary(PlaceOrdersRequestSchema, create(PlaceOrdersRequestSchema, { orders }));
  }
  const roll = rng.next();
  if (roll < 0.5) return toBinary(schema, randomMessage(rng, schema).message);
  if (roll < 0.85) return mutate(rng, toBinary(schema, randomMessage(rng, schema).message));
  return rng.bytes(rng.int(rng.chance(0.9) ? 64 : 4096));
}
