/**
 * One raw unary call made by each gRPC implementation our users run: grpc-js (Node), grpc-go
 * (grpcurl, like ghz and clients/go) and grpcio (Python, clients/python/raw_call.py). Each
 * reports the same shape, so a test can require that all three read an answer alike.
 */
import { execFileSync } from 'node:child_process';
import { fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { ErrorInfoSchema, StatusSchema } from '../../../src/gen/google/rpc/status_pb.js';
import { fromRoot } from '../../../src/shared/paths.js';
import { run, tool } from '../../support/tools.js';

export type ClientName = 'grpc-js' | 'grpc-go (grpcurl)' | 'python grpcio';
export const CLIENTS: ClientName[] = ['grpc-js', 'grpc-go (grpcurl)', 'python grpcio'];

export interface Outcome {
  /** The status code's name, e.g. UNAVAILABLE ("OK" when the call succeeded). */
  code: string;
  message?: string;
  /** The ErrorInfo reason from grpc-status-details-bin, when the answer carries one. */
  reason?: string;
}

/** GetOrder is the method every client calls: its request is one string we can make large. */
const METHOD = 'tierbook.v1.OrderService/GetOrder';

/** The first Python 3 with grpcio: the project venv scripts/setup.sh makes, else a system one. */
export const python = (() => {
  for (const exe of [fromRoot('.tools', 'python', 'bin', 'python'), 'python3', '/usr/bin/python3']) {
    try {
      execFileSync(exe, ['-c', 'import grpc'], { stdio: 'ignore' });
      return exe;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
})();

const reasonOfStatus = (bytes: Uint8Array): string | undefined =>
  fromBinary(StatusSchema, bytes).details.map((d) => anyUnpack(d, ErrorInfoSchema)?.reason).find(Boolean);

function grpcJs(target: string, request: Uint8Array): Promise<Outcome> {
  const client = new Client(target, credentials.createInsecure());
  const id = (b: Buffer) => b;
  return new Promise<Outcome>((resolve) => {
    client.makeUnaryRequest(`/${METHOD}`, id, id, Buffer.from(request), { deadline: Date.now() + 10_000 }, (err: ServiceError | null) => {
      if (!err) return resolve({ code: 'OK' });
      const bin = err.metadata?.get('grpc-status-details-bin')[0];
      resolve({ code: status[err.code] ?? String(err.code), message: err.details, reason: bin instanceof Buffer ? reasonOfStatus(bin) : undefined });
    });
  }).finally(() => client.close());
}

async function grpcurl(target: string, clientOrderId: string): Promise<Outcome> {
  const args = ['-plaintext', '-import-path', fromRoot('proto'), '-proto', 'tierbook/v1/order_service.proto',
    '-format', 'json', '-format-error', '-d', JSON.stringify({ client_order_id: clientOrderId }), target, METHOD];
  const out = await run(tool('grpcurl'), args, 30_000);
  if (out.code === 0) return { code: 'OK' };
  // With -format-error grpcurl prints the status to stderr as JSON: code, message, details (Any).
  const st = JSON.parse(out.stderr) as { code: number; message: string; details?: { '@value'?: string }[] };
  const info = st.details?.[0]?.['@value'];
  return { code: status[st.code] ?? String(st.code), message: st.message, reason: info ? fromBinary(ErrorInfoSchema, Buffer.from(info, 'base64')).reason : undefined };
}

async function grpcio(target: string, request: Uint8Array): Promise<Outcome> {
  if (!python) throw new Error('no python3 with grpcio: run scripts/setup.sh (it creates the venv .tools/python)');
  const script = fromRoot('clients', 'python', 'raw_call.py');
  const out = await run(python, [script, target, `/${METHOD}`, Buffer.from(request).toString('hex')], 30_000);
  if (out.code !== 0) throw new Error(`raw_call.py failed: ${out.stderr}`);
  const r = JSON.parse(out.stdout) as { code: string; message?: string; details_bin?: string | null };
  return { code: r.code, message: r.message, reason: r.details_bin ? reasonOfStatus(Buffer.from(r.details_bin, 'base64')) : undefined };
}

/**
 * Calls GetOrder on `target` with the given client order id through one client. `request` is
 * the same GetOrderRequest encoded, for the clients that send raw bytes.
 */
export function callWith(client: ClientName, target: string, clientOrderId: string, request: Uint8Array): Promise<Outcome> {
  switch (client) {
    case 'grpc-js':
      return grpcJs(target, request);
    case 'grpc-go (grpcurl)':
      return grpcurl(target, clientOrderId);
    case 'python grpcio':
      return grpcio(target, request);
  }
}
