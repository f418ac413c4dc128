/**
 * `npm run stack -- --redis-cluster 3`, as a newcomer runs it (the built CLI), on free ports and
 * a temporary data folder: three cluster-enabled masters joined into one cluster, everything
 * running against it (an order placed through nginx reaches Postgres through the sync), and
 * status / down knowing every node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { isAlive } from '../../src/devstack/process.js';
import { run, tool } from '../support/tools.js';
import { stackEnv, stackCli } from '../support/stack-cli.js';
import { consecutiveFreePorts } from '../../src/devstack/ports.js';

describe('stack up --redis-cluster 3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-stack-cluster-'));
  chmodSync(dir, 0o755);
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => stackCli(env, args);
  const clusterState = () => JSON.parse(readFileSync(join(dir, 'redis-cluster.json'), 'utf8')) as { pids: number[]; url: string };

  before(async () => {
    // The nodes take the three ports after TIERBOOK_REDIS_URL's, and their bus ports 10000
    // above (src/devstack/redis-cluster.ts): make sure all of them are free.
    const redis = await consecutiveFreePorts(4, [10_000]);
    env = { ...(await stackEnv(dir)), TIERBOOK_REDIS_URL: `redis://127.0.0.1:${redis}` };
  });
  after(async () => {
    await cli('down');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a bad node count is refused with a readable message', async () => {
    const r = await cli('up', '--detach', '--redis-cluster', '2');
    assert.equal(r.code, 2);
    assert.match(r.out, /--redis-cluster needs a number of masters, at least 3/);
  });

  test('up starts a 3-master cluster and everything on it; an order reaches Postgres', { timeout: 150_000 }, async () => {
    const up = await cli('up', '--detach', '--redis-cluster', '3');
    assert.equal(up.code, 0, up.out);
    const cluster = clusterState();
    assert.equal(cluster.pids.length, 3);
    assert.match(up.out, new RegExp(`redis +${cluster.url.replace(/[.]/g, '\\.')}`));
    const ports = cluster.url.slice('redis-cluster://'.length).split(',').map((hp) => Number(hp.split(':')[1]));
    const masters = new Set<string>();
    for (const port of ports) {
      const r = new Redis({ port, host: '127.0.0.1' });
      try {
        assert.match(String(await r.cluster('INFO')), /cluster_state:ok/);
        for (const line of String(await r.cluster('NODES')).split('\n')) if (/master/.test(line) && !/fail/.test(line)) masters.add(line.split(' ')[0]!);
      } finally {
        r.disconnect();
      }
    }
    assert.equal(masters.size, 3, 'three masters, all known to each other');

    // Books on different nodes: one order each through nginx; the sync writes both.
    const demo = JSON.parse(readFileSync(join(dir, 'demo-account.json'), 'utf8')) as { apiKey: string };
    for (const [symbol, px] of [['AAPL', '1900000'], ['MSFT', '4200000']] as const) {
      const r = await run(tool('grpcurl'), ['-plaintext', '-H', `authorization: Bearer ${demo.apiKey}`,
        '-d', JSON.stringify({ symbol, side: 'SIDE_BUY', type: 'ORDER_TYPE_LIMIT', price_ticks: px, quantity_lots: '10', client_order_id: `c-${symbol}` }),
        `127.0.0.1:${env.TIERBOOK_NGINX_PORT}`, 'tierbook.v1.OrderService/PlaceOrder']);
      assert.equal(r.code, 0, r.stderr);
    }
    const sql = postgres(env.TIERBOOK_DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      let symbols: string[] = [];
      for (let i = 0; i < 200 && symbols.length < 2; i++) {
        symbols = (await sql<{ symbol: string }[]>`SELECT symbol FROM orders WHERE client_order_id LIKE 'c-%' ORDER BY symbol`).map((r) => r.symbol);
        await sleep(100);
      }
      assert.deepEqual(symbols, ['AAPL', 'MSFT'], 'both orders in Postgres');
    } finally {
      await sql.end({ timeout: 2 });
    }
  });

  test('status lists the cluster; down stops every node', async () => {
    const { pids } = clusterState();
    const status = await cli('status');
    assert.match(status.out, /redis cluster: 3 masters, 3 running/);
    const down = await cli('down');
    assert.equal(down.code, 0, down.out);
    for (const pid of pids) assert.equal(isAlive(pid), false, `cluster node ${pid} still alive`);
    assert.match((await cli('status')).out, /not running/);
  });
});
