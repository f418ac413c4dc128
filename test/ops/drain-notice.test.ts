/**
 * announceDrain (src/server/drain-notice.ts) against real peers: nginx closes its keepalive
 * connections when the draining server PINGs them, so they need no GOAWAY; a direct grpc-js
 * client acks the PINGs, gets the GOAWAY notice, and does not hold the drain up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, credentials, Server, ServerCredentials, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { startNginx } from '../../src/devstack/nginx.js';
import { freePort } from '../../src/devstack/ports.js';
import { announceDrain } from '../../src/server/drain-notice.js';

const identity = (b: Buffer) => b;
const ECHO = {
  Echo: {
    path: '/test.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
};

let server: Server;
let port: number;
let nginx: { stop(): Promise<void> };
let nginxPort: number;
let dir: string;
before(async () => {
  server = new Server();
  // Answers after 5 ms, so concurrent calls make nginx open several upstream connections.
  const impl: UntypedServiceImplementation = {
    Echo: (call: { request: Buffer }, cb: (err: null, res: Buffer) => void) => void sleep(5).then(() => cb(null, call.request)),
  };
  server.addService(ECHO, impl);
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  dir = mkdtempSync(join(tmpdir(), 'tierbook-drain-'));
  nginxPort = await freePort();
  nginx = await startNginx({ dir: join(dir, 'nginx'), port: nginxPort, upstreamPorts: [port], maxMessageBytes: 1024 });
});
after(async () => {
  await nginx?.stop();
  server?.forceShutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function echo(client: Client): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest('/test.Echo/Echo', identity, identity, Buffer.from('hi'), (err: ServiceError | null, res?: Buffer) =>
      err ? reject(err) : resolve(res!),
    ),
  );
}

test('nginx lets go of every connection on PINGs (no GOAWAY); a direct client gets the notice without holding the drain up', async () => {
  const viaNginx = new Client(`127.0.0.1:${nginxPort}`, credentials.createInsecure());
  const direct = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  // 8 concurrent calls through nginx: it keeps their upstream connections in its cache.
  await Promise.all(Array.from({ length: 8 }, () => echo(viaNginx)));
  await echo(direct);
  await sleep(50);

  const report = await announceDrain(server, { quietMs: 2_000, noticeMs: 100 });
  console.log(`drain: ${JSON.stringify(report)}`);
  assert.ok(report.connections >= 2, `nginx's connections and the direct one: ${report.connections}`);
  // Every nginx connection was closed by nginx itself; only the direct client was notified.
  assert.equal(report.closedQuietly, report.connections - 1);
  assert.equal(report.ackedIdle, 1);
  assert.equal(report.notified, 1);
  // The direct client (acking every PING) did not keep the quiet phase to its limit.
  assert.ok(report.quietPhaseMs < 1_000, `quiet phase ${report.quietPhaseMs} ms`);
  const errors = readFileSync(join(dir, 'nginx', 'error.log'), 'utf8');
  assert.doesNotMatch(errors, /\[(error|crit|alert|emerg)\]/, errors);

  // The server stopped listening: nginx answers UNAVAILABLE, the server itself is still up.
  await assert.rejects(echo(viaNginx), (err: ServiceError) => err.code === 14);
  viaNginx.close();
  direct.close();
});
