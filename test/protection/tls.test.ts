/**
 * TLS from configured files: the gateway serves TLS with TIERBOOK_TLS_CERT_FILE/KEY_FILE,
 * and nginx terminates TLS in front of it (proxying with grpcs). The certificate is a fresh
 * self-signed one made by this test with openssl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { startTestStack, type TestStack } from '../support/stack.js';
import { callError } from '../support/grpc-client.js';
import { freePort } from '../../src/devstack/ports.js';
import { startNginx } from '../../src/devstack/nginx.js';
import type { OwnedProcess } from '../../src/devstack/process.js';
import { loadConfig } from '../../src/shared/config.js';
import { GetOrderRequestSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';

/** A GetOrder for an order that does not exist: NOT_FOUND proves the whole path ran. */
function getOrder(target: string, creds: ChannelCredentials, apiKey: string): Promise<number> {
  const client = new Client(target, creds);
  const md = new Metadata();
  md.set('authorization', `Bearer ${apiKey}`);
  const body = Buffer.from(toBinary(GetOrderRequestSchema, create(GetOrderRequestSchema, { clientOrderId: 'nope' })));
  return new Promise<number>((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>('/tierbook.v1.OrderService/GetOrder', (b) => b, (b) => b, body, md,
      { deadline: Date.now() + 5_000 }, (err) => {
        client.close();
        resolve(err ? callError(err).code : 0);
      });
  });
}

describe('TLS', () => {
  let dir: string;
  let cert: Buffer;
  let stack: TestStack;
  let nginx: OwnedProcess;
  let nginxPort: number;
  let apiKey: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tierbook-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    cert = readFileSync(join(dir, 'cert.pem'));
    const tls = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
    stack = await startTestStack({ withoutNginx: true, env: { TIERBOOK_TLS_CERT_FILE: tls.certFile, TIERBOOK_TLS_KEY_FILE: tls.keyFile } });
    apiKey = (await stack.createAccount('PRO')).apiKey;
    nginxPort = await freePort();
    nginx = await startNginx({
      dir: join(dir, 'nginx'), port: nginxPort, upstreamPorts: [stack.gateway.port],
      maxMessageBytes: stack.config.gateway.maxMessageBytes, tls: { ...tls, upstreamTls: true },
    });
  });

  after(async () => {
    await nginx?.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS at the gateway and refuses plaintext there', async () => {
    assert.equal(await getOrder(stack.gatewayTarget, credentials.createSsl(cert), apiKey), 5);
    assert.equal(await getOrder(stack.gatewayTarget, credentials.createInsecure(), apiKey), 14);
  });

  it('serves TLS through nginx to a TLS gateway', async () => {
    assert.equal(await getOrder(`127.0.0.1:${nginxPort}`, credentials.createSsl(cert), apiKey), 5);
    assert.equal(await getOrder(`localhost:${nginxPort}`, credentials.createSsl(cert), apiKey), 5);
  });

  it('refuses a client that does not trust the certificate', async () => {
    // No root given: the system store does not know a certificate made a second ago.
    assert.equal(await getOrder(`127.0.0.1:${nginxPort}`, credentials.createSsl(), apiKey), 14);
  });

  it('names the options when only half of TLS is configured', () => {
    assert.throws(() => loadConfig({ TIERBOOK_TLS_CERT_FILE: '/x.pem' }), /TIERBOOK_TLS_CERT_FILE and TIERBOOK_TLS_KEY_FILE/);
  });
});
