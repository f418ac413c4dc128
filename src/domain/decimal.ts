/**
 * Exact decimal strings for the API's money and ratio fields (PnL, notional, average price,
 * win rate). Every figure is a ratio of two bigints; this module turns one into a decimal
 * string without ever passing through a JavaScript number.
 */

/** Digits after the point when a ratio does not terminate (e.g. an average price of 1/3). */
export const DEFAULT_MAX_SCALE = 12;

/**
 * `numerator / denominator` as a decimal string: exact when the quotient terminates within
 * `maxScale` fraction digits (any denominator of the form 2^a * 5^b does), otherwise rounded
 * half to even at `maxScale` digits, the rounding that adds no bias over many figures.
 * Trailing fraction zeros are dropped ("2.5", never "2.500"); zero is "0", never "-0".
 *
 * @throws RangeError when the denominator is zero or maxScale is negative.
 */
export function formatRatio(numerator: bigint, denominator: bigint, maxScale = DEFAULT_MAX_SCALE): string {
  if (denominator === 0n) throw new RangeError('formatRatio: denominator is zero');
  if (maxScale < 0 || !Number.isInteger(maxScale)) throw new RangeError('formatRatio: maxScale must be a non-negative integer');
  const negative = (numerator < 0n) !== (denominator < 0n);
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const scale = 10n ** BigInt(maxScale);
  // q = floor(n * 10^s / d); the remainder decides the rounding of the last digit.
  let q = (n * scale) / d;
  const rem = (n * scale) % d;
  // Half to even: round up when the remainder is above half, or exactly half and q is odd.
  const twice = rem * 2n;
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
  if (q === 0n) return '0';
  const whole = q / scale;
  const frac = (q % scale).toString().padStart(maxScale, '0').replace(/0+$/, '');
  const body = frac === '' ? whole.toString() : `${whole}.${frac}`;
  return negative ? `-${body}` : body;
}

/** An integer as a decimal string ("0" for zero): the common case of formatRatio(n, 1). */
export function formatInteger(n: bigint): string {
  return n.toString();
}

/**
 * Parses a decimal string made by formatRatio back into a ratio (numerator, 10^scale), for
 * tests and for sums of already formatted figures. Accepts an optional sign, digits, and an
 * optional fraction; anything else throws.
 */
export function parseDecimal(s: string): { numerator: bigint; denominator: bigint } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new RangeError(`parseDecimal: not a decimal string: ${JSON.stringify(s)}`);
  const frac = m[3] ?? '';
  const numerator = BigInt(`${m[2]}${frac}`) * (m[1] === '-' ? -1n : 1n);
  return { numerator, denominator: 10n ** BigInt(frac.length) };
}
