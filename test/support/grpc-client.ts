/**
 * A small typed gRPC client for tests, built from the generated descriptors: requests are
 * encoded with protobuf-es, so tests speak to the server exactly as another service would.
 */
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { ErrorInfoSchema, StatusSchema } from '../../src/gen/google/rpc/status_pb.js';

export interface CallError {
  code: status;
  message: string;
  reason?: string;
  metadata: Record<string, string>;
}

export class TestClient {
  readonly raw: Client;
  constructor(target: string, private apiKey?: string, options: Record<string, unknown> = {}) {
    this.raw = new Client(target, credentials.createInsecure(), options);
  }

  metadata(): Metadata {
    const md = new Metadata();
    if (this.apiKey !== undefined) md.set('authorization', `Bearer ${this.apiKey}`);
    return md;
  }

  /** Sends raw bytes to a method path; resolves with the raw reply. */
  rawUnary(path: string, bytes: Uint8Array, deadlineMs = 10_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.raw.makeUnaryRequest<Buffer, Buffer>(
        path,
        (b) => b,
        (b) => b,
        Buffer.from(bytes),
        this.metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    });
  }

  /** Calls a unary method with a typed request and decodes the typed response. */
  async unary<I extends DescMessage, O extends DescMessage>(
    svc: DescService,
    method: string,
    inSchema: I,
    outSchema: O,
    req: MessageInitShape<I>,
    deadlineMs?: number,
  ): Promise<MessageShape<O>> {
    const bytes = toBinary(inSchema, create(inSchema, req));
    const out = await this.rawUnary(`/${svc.typeName}/${method}`, bytes, deadlineMs);
    return fromBinary(outSchema, out);
  }

  close(): void {
    this.raw.close();
  }
}

/** Decodes a failed call's status, message and ErrorInfo reason (from grpc-status-details-bin). */
export function callError(err: unknown): CallError {
  const e = err as ServiceError;
  const out: CallError = { code: e.code, message: e.details, metadata: {} };
  const bin = e.metadata?.get('grpc-status-details-bin')[0];
  if (bin instanceof Buffer) {
    const st = fromBinary(StatusSchema, bin);
    for (const d of st.details) {
      const info = anyUnpack(d, ErrorInfoSchema);
      if (info) {
        out.reason = info.reason;
        out.metadata = { ...info.metadata };
      }
    }
  }
  return out;
}

/** Runs a call that must fail and returns its decoded error. */
export async function expectError(p: Promise<unknown>): Promise<CallError> {
  try {
    await p;
  } catch (err) {
    return callError(err);
  }
  throw new Error('expected the call to fail, but it succeeded');
}
