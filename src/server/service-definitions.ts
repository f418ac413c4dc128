import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { DescService } from '@bufbuild/protobuf';
import { AnalyticsService } from '../gen/tierbook/v1/analytics_service_pb.js';
import { InstrumentService } from '../gen/tierbook/v1/instrument_service_pb.js';
import { OrderService } from '../gen/tierbook/v1/order_service_pb.js';

/**
 * grpc-js service definitions built from the generated descriptors, with identity
 * serializers: the gateway moves raw bytes and never decodes a request on its event loop.
 * (grpc-js needs a Buffer back from serialize, so responses are Buffers, not Uint8Arrays.)
 */
const identity = (b: Buffer): Buffer => b;

export function rawServiceDefinition(svc: DescService): ServiceDefinition {
  const def: Record<string, MethodDefinition<Buffer, Buffer>> = {};
  for (const m of svc.methods) {
    def[m.name] = {
      path: `/${svc.typeName}/${m.name}`,
      requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
      responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
  }
  return def as ServiceDefinition;
}

export const apiServices: DescService[] = [OrderService, AnalyticsService, InstrumentService];
