import { create, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { file_tierbook_v1_order_service, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { OrderStatus, OrderType, Side, TimeInForce } from '../../src/gen/tierbook/v1/types_pb.js';
import { reflectionFor } from '../../src/server/reflection.js';

/**
 * The baseline: the cheapest server that can answer the same ghz command as the gateway.
 * Identity (raw Buffer) serializers, no decode, no auth, no pool hop, no Redis: one fixed
 * PlaceOrderResponse per call. Every load-test figure is reported as a ratio to this, measured
 * in the same run, so the ratio shows what tierbook's own work costs on this machine.
 */

const identity = (b: Buffer): Buffer => b;

/** The fixed answer, encoded once: a small accepted resting order, like a real reply's size. */
export const FIXED_RESPONSE: Buffer = Buffer.from(
  toBinary(
    PlaceOrderResponseSchema,
    create(PlaceOrderResponseSchema, {
      order: {
        orderId: 'baseline-0000000000000001',
        clientOrderId: 'baseline',
        symbol: 'AAPL',
        side: Side.BUY,
        type: OrderType.LIMIT,
        timeInForce: TimeInForce.GTC,
        priceTicks: 10_000n,
        quantityLots: 1n,
        remainingLots: 1n,
        status: OrderStatus.NEW,
        version: 1n,
      },
    }),
  ),
);

/** The service definition grpc-js needs, with the same path the gateway serves. */
const echoService: grpc.ServiceDefinition = {
  PlaceOrder: {
    path: '/tierbook.v1.OrderService/PlaceOrder',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Builds the baseline server without binding it; the caller binds (see main.ts and tests). */
export function buildEchoServer(): grpc.Server {
  const server = new grpc.Server();
  server.addService(echoService, {
    PlaceOrder: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, FIXED_RESPONSE);
    },
  });
  reflectionFor([file_tierbook_v1_order_service]).addToServer(server);
  return server;
}

/** Binds the server on host:port (port 0 picks a free one) and resolves with the bound port. */
export function listen(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}
