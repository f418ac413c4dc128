/**
 * API key rotation and revocation from the CLI (`tierbook keys create|revoke`), seen by a
 * client of the real gateway: a second key works beside the first, a revoked key is refused
 * UNAUTHENTICATED once the gateway's auth cache has passed, and bad invocations say why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ListOrdersRequestSchema, ListOrdersResponseSchema, OrderService } from '../../src/gen/tierbook/v1/order_service_pb.js';
import { fromRoot } from '../../src/shared/paths.js';
import { callError, TestClient } from '../support/grpc-client.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { eventually } from '../sync/support/pg-state.js';

const AUTH_CACHE_MS = 300;
let stack: TestStack;
const clients: TestClient[] = [];

before(async () => {
  stack = await startTestStack({ withoutNginx: true, env: { TIERBOOK_AUTH_CACHE_MS: String(AUTH_CACHE_MS) } });
});
after(async () => {
  for (const c of clients) c.close();
  await stack?.stop();
});

function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, TIERBOOK_REDIS_URL: stack.config.redisUrl, TIERBOOK_DATABASE_URL: stack.config.databaseUrl, TIERBOOK_AUTH_CACHE_MS: String(AUTH_CACHE_MS) };
  return new Promise((resolve) => {
    execFile(process.execPath, [fromRoot('dist', 'src', 'cli', 'tierbook.js'), ...args], { env, timeout: 30_000 }, (e, stdout, stderr) => {
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

/** The gRPC status a call with this key gets: 0 when it is served. */
async function statusWith(apiKey: string): Promise<number> {
  const c = new TestClient(stack.gatewayTarget, apiKey);
  clients.push(c);
  try {
    await c.unary(OrderService, 'ListOrders', ListOrdersRequestSchema, ListOrdersResponseSchema, {});
    return 0;
  } catch (err) {
    return callError(err).code;
  }
}

test('a second key works beside the first; a revoked key is refused UNAUTHENTICATED, the other still served', async () => {
  const acct = await stack.createAccount('PRO', 'rotating');
  assert.equal(await statusWith(acct.apiKey), 0);

  const made = await cli('keys', 'create', '--account', acct.accountId, '--json');
  assert.equal(made.code, 0, made.err);
  const second = JSON.parse(made.out) as { apiKey: string; accountId: string; tier: string };
  assert.deepEqual([second.accountId, second.tier], [acct.accountId, 'PRO']);
  assert.notEqual(second.apiKey, acct.apiKey);
  assert.equal(await statusWith(second.apiKey), 0, 'the new key is accepted at once');

  const revoked = await cli('keys', 'revoke', '--key', acct.apiKey);
  assert.equal(revoked.code, 0, revoked.err);
  assert.match(revoked.out, /revoked 1 key; gateways refuse it within TIERBOOK_AUTH_CACHE_MS \(300 ms\)/);
  await eventually('the revoked key is refused', async () => (await statusWith(acct.apiKey)) === 16, 5_000);
  assert.equal(await statusWith(second.apiKey), 0, 'the other key of the account is still served');
  const [row] = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM api_keys WHERE account_id = ${acct.accountId} AND revoked_at IS NOT NULL`;
  assert.equal(row!.n, 1, 'Postgres records the revocation (the gateway falls back to it when Redis lost its entry)');

  const again = await cli('keys', 'revoke', '--key', acct.apiKey);
  assert.deepEqual([again.code, again.err.trim()], [1, 'no live key matches --key (unknown, or revoked already)']);

  const all = await cli('keys', 'revoke', '--account', acct.accountId);
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^revoked 1 key/);
  await eventually('the last key is refused too', async () => (await statusWith(second.apiKey)) === 16, 5_000);
});

test('bad invocations exit non-zero and say what is wrong', async () => {
  const none = await cli('keys', 'revoke');
  assert.deepEqual([none.code, none.err.trim()], [2, 'keys revoke needs exactly one of --key <api key> or --account <account id>']);
  const both = await cli('keys', 'revoke', '--key', 'tb_x', '--account', 'acc_x');
  assert.equal(both.code, 2);
  const noAccount = await cli('keys', 'create', '--account', 'acc_doesnotexist');
  assert.deepEqual([noAccount.code, noAccount.err.trim()], [1, 'no account acc_doesnotexist']);
  const nothingLive = await cli('keys', 'revoke', '--account', 'acc_doesnotexist');
  assert.deepEqual([nothingLive.code, nothingLive.err.trim()], [1, 'account acc_doesnotexist has no live key']);
});
