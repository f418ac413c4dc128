import type { Server } from '@grpc/grpc-js';
import { toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, file_google_protobuf_any, file_google_protobuf_timestamp } from '@bufbuild/protobuf/wkt';
import { ReflectionService } from '@grpc/reflection';
import type { PackageDefinition } from '@grpc/proto-loader';
import { file_grpc_health_v1_health } from '../gen/grpc/health/v1/health_pb.js';
import { file_tierbook_v1_analytics_service } from '../gen/tierbook/v1/analytics_service_pb.js';
import { file_tierbook_v1_order_service } from '../gen/tierbook/v1/order_service_pb.js';
import { file_tierbook_v1_types } from '../gen/tierbook/v1/types_pb.js';
import { file_google_rpc_status } from '../gen/google/rpc/status_pb.js';

/** Every file a client needs to describe our services, from the generated descriptors. */
const FILES: DescFile[] = [
  file_google_protobuf_timestamp,
  file_google_protobuf_any,
  file_google_rpc_status,
  file_tierbook_v1_types,
  file_tierbook_v1_order_service,
  file_tierbook_v1_analytics_service,
  file_grpc_health_v1_health,
];

/**
 * Server reflection (v1 and v1alpha), so grpcurl and ghz work with no proto files on their
 * side. The descriptors are the exact ones protoc-gen-es compiled from proto/, so reflection
 * can never drift from the code. @grpc/reflection reads a proto-loader package definition;
 * it only looks at each entry's `fileDescriptorProtos`, which we give it directly.
 */
export function addReflection(server: Server): void {
  const fileDescriptorProtos = FILES.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  const definition = { tierbook: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos } };
  new ReflectionService(definition as unknown as PackageDefinition).addToServer(server);
}
