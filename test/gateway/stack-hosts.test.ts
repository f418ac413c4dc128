/**
 * `npm run stack -- --hosts 2`: the stack with two gateway hosts (127.0.0.2, 127.0.0.3), each a
 * cluster primary with its own admin port and sync consumer, behind the stack's one nginx.
 * Both serve, nginx reaches both, and `down` stops every host it started.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/devstack/ports.js';
import { isAlive } from '../../src/devstack/process.js';
import { run, tool } from '../support/tools.js';
import { listening, stackCli, stackEnv } from '../support/stack-cli.js';

describe('stack up --hosts 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-stack-hosts-'));
  chmodSync(dir, 0o755);
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => stackCli(env, args, 150_000);

  before(async () => {
    // A fixed admin port: every host binds it on its own address.
    env = await stackEnv(dir, { adminPort: await freePort() });
  });
  after(async () => {
    await cli('down');
    rmSync(dir, { recursive: true, force: true });
  });

  test('two hosts serve behind one nginx, each with its own sync consumer; down stops both', async () => {
    const up = await cli('up', '--detach', '--hosts', '2');
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /gateways\s+\{127\.0\.0\.2,127\.0\.0\.3\}:\d+-\d+ \(1 processes on each of 2 hosts/);
    const port = Number(env.TIERBOOK_GATEWAY_BASE_PORT);
    for (const host of ['127.0.0.2', '127.0.0.3']) {
      assert.ok(await listening(host, port), `a gateway listens on ${host}:${port}`);
      const ready = (await (await fetch(`http://${host}:${env.TIERBOOK_ADMIN_PORT}/readyz`)).json()) as { gateways: unknown[]; sync: string };
      assert.equal(ready.gateways.length, 1, `${host}'s admin port reports its own gateway`);
    }
    assert.equal(await listening('127.0.0.1', port), false, 'nothing of the hosts binds 127.0.0.1');
    const conf = readFileSync(join(dir, 'nginx', 'nginx.conf'), 'utf8');
    assert.match(conf, new RegExp(`server 127\\.0\\.0\\.2:${port} max_fails=0;\\s+server 127\\.0\\.0\\.3:${port} max_fails=0;`));

    // Orders through nginx land on both hosts; each host's sync joins the one group.
    const demo = JSON.parse(readFileSync(join(dir, 'demo-account.json'), 'utf8')) as { apiKey: string };
    for (let i = 0; i < 6; i++) {
      // A deadline of its own: ELITE's 2 s default is tight for a cold worker on a busy box.
      const r = await run(tool('grpcurl'), ['-plaintext', '-max-time', '20', '-H', `authorization: Bearer ${demo.apiKey}`, '-d',
        `{"symbol":"AAPL","side":"SIDE_BUY","type":"ORDER_TYPE_LIMIT","price_ticks":"1800000","quantity_lots":"1","client_order_id":"hosts-${i}"}`,
        `127.0.0.1:${env.TIERBOOK_NGINX_PORT}`, 'tierbook.v1.OrderService/PlaceOrder']);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const host of ['127.0.0.2', '127.0.0.3']) {
      const metrics = await (await fetch(`http://${host}:${env.TIERBOOK_ADMIN_PORT}/metrics`)).text();
      const placed = metrics.split('\n').filter((l) => l.startsWith('tierbook_rpc_duration_seconds_count{') && l.includes('PlaceOrder'))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      assert.ok(placed > 0, `nginx sent PlaceOrder calls to ${host} (${placed} by its tierbook_rpc_duration_seconds_count)`);
    }
    const consumers = await run('redis-cli', ['-u', env.TIERBOOK_REDIS_URL!, 'XINFO', 'CONSUMERS', '{bk:AAPL}:events', 'pg-sync']);
    for (const name of ['host-0', 'host-1']) assert.match(consumers.stdout, new RegExp(`\\b${name}\\b`), consumers.stdout);

    const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>;
    const hosts = JSON.parse(readFileSync(join(dir, 'hosts.json'), 'utf8')) as { hosts: number; extraPids: number[] };
    assert.equal(hosts.hosts, 2);
    assert.equal(hosts.extraPids.length, 1);
    const down = await cli('down');
    assert.equal(down.code, 0, down.out);
    for (const pid of [...Object.values(pids), ...hosts.extraPids]) assert.equal(isAlive(pid), false, `${pid} still alive`);
    for (const host of ['127.0.0.2', '127.0.0.3']) assert.equal(await listening(host, port), false, `${host}:${port} still accepts`);
  });
});
