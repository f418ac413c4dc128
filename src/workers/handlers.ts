import { ApiError } from '../domain/errors.js';
import { AnalyticsService } from '../gen/tierbook/v1/analytics_service_pb.js';
import { InstrumentService } from '../gen/tierbook/v1/instrument_service_pb.js';
import { OrderService } from '../gen/tierbook/v1/order_service_pb.js';
import type { UnaryHandler } from './handler.js';
import { orderHandlers } from './orders/index.js';
import { analyticsHandlers } from './analytics/index.js';
import { instrumentHandlers } from './instruments/index.js';

/** Every unary method path the API declares, from the generated service descriptors. */
export const unaryMethodPaths: string[] = [OrderService, AnalyticsService, InstrumentService].flatMap((svc) =>
  svc.methods.filter((m) => m.methodKind === 'unary').map((m) => `/${svc.typeName}/${m.name}`),
);

const implemented: Record<string, UnaryHandler> = { ...orderHandlers, ...analyticsHandlers, ...instrumentHandlers };

/** The handler of a method; methods not built yet answer UNIMPLEMENTED with their name. */
export function handlerFor(method: string): UnaryHandler {
  const h = implemented[method];
  if (h) return h;
  return async () => {
    throw new ApiError('NOT_IMPLEMENTED', `${method} is not implemented yet`);
  };
}
