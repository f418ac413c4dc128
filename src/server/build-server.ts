import { Server, status, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { ApiError, toWireError } from '../domain/errors.js';
import type { Principal } from '../shared/accounts-store.js';
import type { Config } from '../shared/config.js';
import { checkEndpoint, type GatewayRole } from './gateway-role.js';
import { addReflection } from './reflection.js';
import { apiServices, rawServiceDefinition } from './service-definitions.js';
import { toServiceError } from './status.js';
import { unaryCall, type UnaryDeps } from './unary-call.js';

/** A server-streaming RPC implemented in the gateway process (it holds a subscription). */
export type StreamHandler = (call: ServerWritableStream<Buffer, Buffer>, principal: Principal) => void;

export interface ServerDeps extends UnaryDeps {
  config: Config;
  logger: Logger;
  /** Server-streaming methods by path; streaming methods not listed answer UNIMPLEMENTED. */
  streams?: Record<string, StreamHandler>;
  /** Which accounts this process serves (gateway-role.ts); unary calls check it in `admit`. */
  role?: GatewayRole;
}

export interface BuiltServer {
  server: Server;
  health: HealthImplementation;
}

/**
 * Builds the gateway's gRPC server without binding it: the API services with raw-byte
 * handlers, grpc.health.v1 and reflection. `main` decides where it listens.
 */
export function buildServer(deps: ServerDeps): BuiltServer {
  const max = deps.config.gateway.maxMessageBytes;
  const server = new Server({
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
    // Ping idle clients so dead TCP peers are found within a minute, and allow nginx's
    // long-lived upstream connections to stay open without being reaped.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const svc of apiServices) {
    const impl: UntypedServiceImplementation = {};
    for (const m of svc.methods) {
      const path = `/${svc.typeName}/${m.name}`;
      impl[m.name] =
        m.methodKind === 'unary' ? unaryCall(path, deps) : streamCall(path, deps.streams?.[path], deps);
    }
    server.addService(rawServiceDefinition(svc), impl);
    health.setStatus(svc.typeName, 'SERVING');
  }
  health.addToServer(server);
  addReflection(server);
  return { server, health };
}

function streamCall(path: string, handler: StreamHandler | undefined, deps: ServerDeps) {
  return (call: ServerWritableStream<Buffer, Buffer>) => {
    void (async () => {
      try {
        const principal = await deps.auth.authenticate(call.metadata);
        checkEndpoint(deps.role ?? 'general', principal.tier);
        if (!handler) throw new ApiError('NOT_IMPLEMENTED', `${path} is not implemented yet`);
        handler(call, principal);
      } catch (err) {
        if (!(err instanceof ApiError)) deps.logger.error({ err, method: path }, 'stream failed');
        const e = toServiceError(toWireError(err));
        call.emit('error', { ...e, code: e.code ?? status.INTERNAL });
      }
    })();
  };
}
