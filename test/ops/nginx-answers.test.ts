/**
 * The answers nginx makes itself (no gateway could take the call; the request is over the
 * size limit) are well-formed gRPC for every client we know of: grpc-js, grpc-go (grpcurl,
 * as ghz and clients/go) and Python grpcio all read UNAVAILABLE or RESOURCE_EXHAUSTED with
 * nginx's message and the catalogue's ErrorInfo reason. Before, nginx answered `return 204`
 * without a content-type, and grpc-go read it as Unknown (so clients never retried).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ErrorInfoSchema, StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { GetOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { ERROR_DOMAIN, Reasons } from '../../src/domain/errors.js';
import { freePort } from '../../src/devstack/ports.js';
import { startNginx } from '../../src/devstack/nginx.js';
import { fromRoot } from '../../src/shared/paths.js';
import { CLIENTS, callWith, type Outcome } from './support/three-clients.js';

/** nginx's body limit in these tests; the stand-in gateway below accepts any size. */
const LIMIT = 1024;
const identity = (b: Buffer) => b;

let upstream: Server;
let dir: string;
let nginxUp: { stop(): Promise<void> };
let nginxDown: { stop(): Promise<void> };
/** nginx in front of a gateway that answers every GetOrder with an empty response. */
let upTarget: string;
/** nginx whose only gateway port has nothing listening (every gateway down). */
let downTarget: string;

before(async () => {
  upstream = new Server({ 'grpc.max_receive_message_length': -1 });
  upstream.addService(
    { GetOrder: { path: '/tierbook.v1.OrderService/GetOrder', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    { GetOrder: (_call: unknown, cb: (err: null, res: Buffer) => void) => cb(null, Buffer.alloc(0)) },
  );
  const upstreamPort = await new Promise<number>((resolve, reject) =>
    upstream.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  dir = mkdtempSync(join(tmpdir(), 'tierbook-nginx-answers-'));
  const [upPort, downPort, deadGateway] = [await freePort(), await freePort(), await freePort()];
  nginxUp = await startNginx({ dir: join(dir, 'up'), port: upPort, upstreamPorts: [upstreamPort], maxMessageBytes: LIMIT });
  nginxDown = await startNginx({ dir: join(dir, 'down'), port: downPort, upstreamPorts: [deadGateway], maxMessageBytes: LIMIT });
  upTarget = `127.0.0.1:${upPort}`;
  downTarget = `127.0.0.1:${downPort}`;
});

after(async () => {
  await nginxUp?.stop();
  await nginxDown?.stop();
  upstream?.forceShutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const request = (clientOrderId: string) => toBinary(GetOrderRequestSchema, create(GetOrderRequestSchema, { clientOrderId }));

async function allClients(target: string, clientOrderId: string): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const c of CLIENTS) out[c] = await callWith(c, target, clientOrderId, request(clientOrderId));
  console.log(`${target} ${clientOrderId.length}-char id: ${JSON.stringify(out)}`);
  return out;
}

describe("nginx's own answers", () => {
  it('gateways down: every client reads UNAVAILABLE (retryable) with the message and BACKEND_UNAVAILABLE', async () => {
    const seen = await allClients(downTarget, 'o-1');
    for (const c of CLIENTS) {
      assert.deepEqual(seen[c], { code: 'UNAVAILABLE', message: 'tierbook gateway unavailable', reason: 'BACKEND_UNAVAILABLE' }, c);
    }
  });

  it('a request over the size limit: every client reads RESOURCE_EXHAUSTED with MESSAGE_TOO_LARGE; a small one passes', async () => {
    const seen = await allClients(upTarget, 'x'.repeat(LIMIT * 5));
    for (const c of CLIENTS) {
      assert.deepEqual(seen[c], { code: 'RESOURCE_EXHAUSTED', message: "request message larger than the server's limit", reason: 'MESSAGE_TOO_LARGE' }, c);
    }
    // The same nginx passes a small call to the gateway: the refusal was nginx's limit.
    const small = await allClients(upTarget, 'o-2');
    for (const c of CLIENTS) assert.equal(small[c]!.code, 'OK', c);
  });

  it('is a trailers-only response: HTTP 200, application/grpc, status in the HEADERS frame that ends the stream', async () => {
    const session = connect(`http://${downTarget}`);
    try {
      const { headers, endStream } = await new Promise<{ headers: Record<string, unknown>; endStream: boolean }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/tierbook.v1.OrderService/GetOrder', 'content-type': 'application/grpc', te: 'trailers' });
        // flags & 1 is END_STREAM: no DATA and no separate trailers follow.
        req.on('response', (h, flags) => resolve({ headers: h, endStream: (flags & 1) === 1 }));
        req.on('error', reject);
        req.end(Buffer.alloc(5));
      });
      assert.equal(headers[':status'], 200);
      assert.equal(headers['content-type'], 'application/grpc');
      assert.equal(headers['grpc-status'], '14');
      assert.equal(endStream, true);
    } finally {
      session.close();
    }
  });

  it("carries the catalogue's status in both nginx configs alike (template and production)", () => {
    const locations = (file: string) => readFileSync(fromRoot('deploy', 'nginx', file), 'utf8').match(/ {8}location @grpc_[\s\S]*?\n {8}\}\n/g) ?? [];
    const template = locations('tierbook.conf.template');
    assert.equal(template.length, 2);
    assert.deepEqual(locations('production.conf'), template, 'production.conf answers as the template does');
    for (const block of template) {
      const code = Number(/grpc-status (\d+)/.exec(block)![1]);
      const message = /grpc-message "([^"]*)"/.exec(block)![1];
      const st = fromBinary(StatusSchema, Buffer.from(/grpc-status-details-bin (\S+) always/.exec(block)![1]!, 'base64'));
      const info = anyUnpack(st.details[0]!, ErrorInfoSchema)!;
      // The details agree with the headers (Python's rpc_status refuses a mismatch) and the catalogue.
      assert.equal(st.code, code);
      assert.equal(st.message, message);
      assert.equal(info.domain, ERROR_DOMAIN);
      assert.equal(Reasons[info.reason as keyof typeof Reasons], code, info.reason);
    }
  });
});
