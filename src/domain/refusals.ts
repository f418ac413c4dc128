import { ApiError, type Reason } from './errors.js';

/**
 * The refusals of an order request, wherever they are raised (the book scripts in Redis or
 * the static checks before them): one wording per reason, built from the facts behind it, and
 * those facts as the ErrorInfo metadata, the same keys the gateway's own errors use (`field`
 * names the request field at fault; bounds and limits are decimal strings in ticks or lots).
 * A client can act on the metadata alone; the message only says the same thing in words.
 */
export type Facts = Record<string, string>;

interface Refusal {
  /** The request field at fault when the raiser does not say. */
  field: string;
  /** The metadata keys besides `field` every refusal of this reason carries. */
  facts: readonly string[];
  text(f: Facts): string;
}

export const REFUSALS = {
  UNKNOWN_SYMBOL: {
    field: 'symbol', facts: [], text: (f) => `${f.field}: ${f.symbol !== undefined ? `${JSON.stringify(f.symbol)} ` : ''}is not a listed instrument`,
  },
  DUPLICATE_CLIENT_ORDER_ID: {
    field: 'client_order_id', facts: [], text: (f) => `${f.field}: already used by this account for a different order`,
  },
  QUANTITY_OUT_OF_RANGE: {
    field: 'quantity_lots', facts: ['quantity_lots', 'min_quantity_lots', 'max_quantity_lots'],
    text: (f) => `${f.field}: ${f.quantity_lots} is outside ${f.min_quantity_lots}..${f.max_quantity_lots}`,
  },
  PRICE_OUT_OF_BAND: {
    field: 'price_ticks', facts: ['price_ticks', 'band_low_ticks', 'band_high_ticks', 'reference_price_ticks'],
    text: (f) => `${f.field}: ${f.price_ticks} is outside the price band ${f.band_low_ticks}..${f.band_high_ticks} around ${f.reference_price_ticks}`,
  },
  NOTIONAL_LIMIT_EXCEEDED: {
    field: 'quantity_lots', facts: ['price_ticks', 'quantity_lots', 'notional_ticks', 'max_notional_ticks'],
    text: (f) => `${f.field}: ${f.quantity_lots} lots at ${f.price_ticks} is a notional of ${f.notional_ticks}, above the limit ${f.max_notional_ticks}`,
  },
  POSITION_LIMIT_EXCEEDED: {
    field: 'quantity_lots', facts: ['position_lots', 'worst_position_lots', 'position_limit_lots'],
    text: (f) => `${f.field}: with the working orders the position could reach ${f.worst_position_lots} lots, beyond the limit of ${f.position_limit_lots}`,
  },
  ORDER_NOT_FOUND: { field: 'order_id', facts: [], text: (f) => `${f.field}: no such order for this account` },
  ORDER_NOT_WORKING: {
    field: 'order_id', facts: ['order_id', 'status', 'action'],
    text: (f) => `${f.field}: order ${f.order_id} is ${f.status} and can no longer be ${f.action}`,
  },
  POST_ONLY_WOULD_TAKE: {
    field: 'new_price_ticks', facts: ['price_ticks', 'best_price_ticks'],
    text: (f) => `${f.field}: ${f.price_ticks} would take liquidity at ${f.best_price_ticks} and the order is post-only`,
  },
} as const satisfies Partial<Record<Reason, Refusal>>;
export type RefusalReason = keyof typeof REFUSALS;

/** The ApiError of a refusal: its one wording and its facts as metadata. */
export function refusal(reason: RefusalReason, facts: Facts = {}): ApiError {
  const r: Refusal = REFUSALS[reason];
  const f = { field: r.field, ...facts };
  return new ApiError(reason, r.text(f), f);
}

export function isRefusalReason(reason: string): reason is RefusalReason {
  return Object.hasOwn(REFUSALS, reason);
}
