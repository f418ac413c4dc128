import type { Server } from '@grpc/grpc-js';
import { toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ReflectionService } from '@grpc/reflection';
import type { PackageDefinition } from '@grpc/proto-loader';
import { file_grpc_health_v1_health } from '../gen/grpc/health/v1/health_pb.js';
import { file_tierbook_v1_analytics_service } from '../gen/tierbook/v1/analytics_service_pb.js';
import { file_tierbook_v1_instrument_service } from '../gen/tierbook/v1/instrument_service_pb.js';
import { file_tierbook_v1_order_service } from '../gen/tierbook/v1/order_service_pb.js';
import { file_google_rpc_status } from '../gen/google/rpc/status_pb.js';

/**
 * Server reflection (v1 and v1alpha) for the given files and everything they import, so
 * grpcurl and ghz work with no proto files on their side. The descriptors are the exact ones
 * protoc-gen-es compiled from proto/, so reflection can never drift from the code.
 * @grpc/reflection reads a proto-loader package definition but only looks at each entry's
 * `fileDescriptorProtos`, which we give it directly.
 */
export function reflectionFor(files: DescFile[]): ReflectionService {
  const seen = new Map<string, Buffer>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    for (const dep of file.dependencies) visit(dep);
    seen.set(file.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  };
  for (const file of files) visit(file);
  const definition = { tierbook: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos: [...seen.values()] } };
  return new ReflectionService(definition as unknown as PackageDefinition);
}

/** Reflection for the gateway: the API services, the error details and health. */
export function addReflection(server: Server): void {
  reflectionFor([
    file_tierbook_v1_order_service,
    file_tierbook_v1_analytics_service,
    file_tierbook_v1_instrument_service,
    file_google_rpc_status,
    file_grpc_health_v1_health,
  ]).addToServer(server);
}
