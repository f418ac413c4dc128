/**
 * Premium-only gateway processes in the real supervised cluster, started the way an operator
 * starts the stack (the built devstack CLI, TIERBOOK_PREMIUM_GATEWAY_PROCESSES=1), behind the
 * stack's own premium nginx port: ELITE is served there, PRO is refused there and served on
 * the main port, and the first process is the premium-only one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { freePort } from '../../src/devstack/ports.js';
import { fromRoot } from '../../src/shared/paths.js';
import { OrderService, PlaceOrderRequestSchema, PlaceOrderResponseSchema } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { expectError, TestClient } from '../support/grpc-client.js';
import { restingOrder } from './support/load.js';
import { consecutivePorts } from './support/cluster.js';

describe('premium-only gateways in the stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-premium-stack-'));
  chmodSync(dir, 0o755);
  let env: NodeJS.ProcessEnv;
  let ports: { main: number; premium: number; base: number };
  const node = (script: string[], ...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [fromRoot('dist', 'src', ...script), ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      });
    });
  const place = (target: string, apiKey: string, coid: string) => {
    const c = new TestClient(target, apiKey);
    return c.unary(OrderService, 'PlaceOrder', PlaceOrderRequestSchema, PlaceOrderResponseSchema, restingOrder(coid, 1)).finally(() => c.close());
  };

  before(async () => {
    const [redis, pg, main, premium, base] = [await freePort(), await freePort(), await freePort(), await freePort(), await consecutivePorts(2)];
    ports = { main, premium, base };
    env = {
      ...process.env,
      TIERBOOK_STACK_DIR: dir,
      TIERBOOK_REDIS_URL: `redis://127.0.0.1:${redis}`,
      TIERBOOK_DATABASE_URL: `postgres://tierbook@127.0.0.1:${pg}/tierbook`,
      TIERBOOK_NGINX_PORT: String(main),
      TIERBOOK_NGINX_PREMIUM_PORT: String(premium),
      TIERBOOK_ADMIN_PORT: '0',
      TIERBOOK_GATEWAY_BASE_PORT: String(base),
      TIERBOOK_GATEWAY_PROCESSES: '2',
      TIERBOOK_PREMIUM_GATEWAY_PROCESSES: '1',
      TIERBOOK_PREMIUM_THREADS: '1',
      TIERBOOK_SHARED_THREADS: '1',
      TIERBOOK_LOG_LEVEL: 'warn',
    };
    const up = await node(['devstack', 'cli.js'], 'up', '--detach');
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`premium accounts: 127\\.0\\.0\\.1:${premium}`));
  });
  after(async () => {
    await node(['devstack', 'cli.js'], 'down');
    rmSync(dir, { recursive: true, force: true });
  });

  const account = async (tier: string) => {
    const r = await node(['cli', 'tierbook.js'], 'accounts', 'create', '--tier', tier, '--json');
    assert.equal(r.code, 0, r.out);
    return JSON.parse(r.out) as { apiKey: string };
  };

  test('ELITE is served on the premium port; PRO is refused there and served on the main port', async () => {
    const [elite, pro] = [await account('ELITE'), await account('PRO')];
    assert.ok((await place(`127.0.0.1:${ports.premium}`, elite.apiKey, 'elite-premium')).order?.orderId);
    const e = await expectError(place(`127.0.0.1:${ports.premium}`, pro.apiKey, 'pro-premium'));
    assert.deepEqual([e.code, e.reason], [status.PERMISSION_DENIED, 'PREMIUM_ENDPOINT_ONLY']);
    assert.ok((await place(`127.0.0.1:${ports.main}`, pro.apiKey, 'pro-main')).order?.orderId);
    assert.ok((await place(`127.0.0.1:${ports.main}`, elite.apiKey, 'elite-main')).order?.orderId, 'the main port serves every tier');
    // The supervisor gave the first process the premium role, the second the general one.
    const direct = await expectError(place(`127.0.0.1:${ports.base}`, pro.apiKey, 'pro-direct-0'));
    assert.equal(direct.reason, 'PREMIUM_ENDPOINT_ONLY');
    assert.ok((await place(`127.0.0.1:${ports.base + 1}`, pro.apiKey, 'pro-direct-1')).order?.orderId);
  });
});
