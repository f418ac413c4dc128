/**
 * Interoperability: the Go client in clients/go (generated with buf from the same protos)
 * places an order through nginx and reads it back; the order is the one our own client
 * sees. Built with `go build` (GOFLAGS=-mod=mod, the module proxy, go.sum committed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromRoot } from '../../src/shared/paths.js';
import { GetOrderRequestSchema, GetOrderResponseSchema, OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { needs } from '../support/required-tool.js';

const run = promisify(execFile);
const hasGo = (() => {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const goMissing = needs('go', hasGo, 'Go 1.21+, see README requirements');

let stack: TestStack;
let dir: string;
let binary: string;
before(async () => {
  if (!hasGo) return;
  dir = mkdtempSync(join(tmpdir(), 'tierbook-go-'));
  binary = join(dir, 'place-and-get');
  const build = run('go', ['build', '-o', binary, './cmd/place-and-get'], {
    cwd: fromRoot('clients', 'go'),
    env: { ...process.env, GOFLAGS: '-mod=mod' },
    timeout: 240_000,
  });
  [stack] = await Promise.all([startTestStack(), build]);
});
after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the Go client places an order and reads it back through nginx', { skip: goMissing }, async () => {
  const acct = await stack.createAccount('PRO', 'go-client');
  const { stdout } = await run(binary, ['-target', stack.target, '-client-order-id', 'go-interop-1', '-price-ticks', '1800100', '-quantity-lots', '3'], {
    env: { ...process.env, TIERBOOK_API_KEY: acct.apiKey },
    timeout: 30_000,
  });
  assert.match(stdout, /^ok: order \S+ \(go-interop-1\) placed and read back, status ORDER_STATUS_NEW$/m);
  // The order the Go client placed, as a TypeScript client reads it.
  const ts = new TestClient(stack.target, acct.apiKey);
  const got = await ts.unary(OrderService, 'GetOrder', GetOrderRequestSchema, GetOrderResponseSchema, { clientOrderId: 'go-interop-1' });
  ts.close();
  assert.equal(got.order?.quantityLots, 3n);
  assert.equal(got.order?.priceTicks, 1_800_100n);
  assert.ok(stdout.includes(got.order!.orderId));
});

test('the Go client reads the status and ErrorInfo reason of a refused call', { skip: goMissing }, async () => {
  const err = await run(binary, ['-target', stack.target], { env: { ...process.env, TIERBOOK_API_KEY: 'not-a-key' }, timeout: 30_000 }).then(
    () => assert.fail('a bad key must fail'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(err.code, 1);
  assert.match(err.stderr, /code=Unauthenticated reason=INVALID_API_KEY/);
});

test('clients/go/gen is what buf generates from proto/ today', { skip: goMissing }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tierbook-gogen-'));
  try {
    // The pinned plugins (clients/go/generate.sh installs them into .tools/bin).
    await run('bash', ['-c', 'export GOBIN="$PWD/.tools/bin"; [ -x .tools/bin/protoc-gen-go ] || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12; [ -x .tools/bin/protoc-gen-go-grpc ] || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2'], { cwd: fromRoot(), timeout: 240_000 });
    await run('npx', ['buf', 'generate', '--template', 'clients/go/buf.gen.go.yaml', '-o', out], { cwd: fromRoot(), timeout: 120_000 });
    const diff = await run('diff', ['-r', fromRoot('clients', 'go', 'gen'), join(out, 'clients', 'go', 'gen')]).then(() => '', (e: { stdout: string }) => e.stdout);
    assert.equal(diff, '', 'clients/go/gen is stale: run bash clients/go/generate.sh');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
