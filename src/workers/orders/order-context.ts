import type { WorkerContext } from '../handler.js';
import { registryFor, type InstrumentRegistry } from './instruments-store.js';
import { OrderEngine } from './order-engine.js';

/** What the order handlers need, made once per worker connection and then shared. */
export interface OrderContext {
  engine: OrderEngine;
  registry: InstrumentRegistry;
}

const engines = new WeakMap<object, OrderEngine>();

/**
 * The engine and instrument registry of a worker. The first call of a thread loads the
 * instruments file and publishes it into Redis (see instruments-store.ts).
 */
export async function orderContext(ctx: WorkerContext): Promise<OrderContext> {
  const registry = await registryFor(ctx.redis, ctx.config.orders.instrumentsFile);
  let engine = engines.get(ctx.redis);
  if (!engine) engines.set(ctx.redis, (engine = new OrderEngine(ctx.redis, ctx.sql)));
  return { engine, registry };
}
