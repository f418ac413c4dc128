import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromRoot } from '../../src/shared/paths.js';
import { childrenOf, isAlive } from '../../src/devstack/process.js';
import { run, tool } from '../support/tools.js';
import { listening as listeningOn, stackCli, stackEnv } from '../support/stack-cli.js';

/** Live node processes whose parent is `pid`: the primary's forked gateways. */
function nodeChildrenOf(pid: number): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('node');
    } catch {
      return false; // it ended while we looked
    }
  });
}

/**
 * The one-command stack, exactly as a newcomer runs it (the built CLI), on free ports and a
 * temporary data folder so it never touches a developer's own stack.
 */
describe('stack up / status / down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-stack-'));
  chmodSync(dir, 0o755);
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => stackCli(env, args);

  /** Whether something accepts TCP connections on 127.0.0.1:port. */
  const listening = (port: number) => listeningOn('127.0.0.1', port);

  before(async () => {
    env = await stackEnv(dir);
  });
  after(async () => {
    await cli('down');
    rmSync(dir, { recursive: true, force: true });
  });

  test('up starts everything, prints where it listens and a grpcurl line that works', async () => {
    const up = await cli('up', '--detach');
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, new RegExp(`gRPC \\(nginx\\)\\s+127\\.0\\.0\\.1:${env.TIERBOOK_NGINX_PORT}`));
    assert.match(up.out, /grpcurl -plaintext -H 'authorization: Bearer tb_/);
    // Run the printed grpcurl command as a person would paste it.
    const printed = up.out.slice(up.out.indexOf('grpcurl -plaintext')).split('\n').slice(0, 3).join(' ').replace(/\\\s+/g, ' ');
    const args = [...printed.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
    const r = await run(tool('grpcurl'), args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ORDER_STATUS_NEW|ORDER_STATUS_FILLED|ORDER_STATUS_PARTIALLY_FILLED/);
  });

  test('starting twice says it is already running and starts nothing', async () => {
    const again = await cli('up', '--detach');
    assert.equal(again.code, 1);
    assert.match(again.out, /already running/);
  });

  test('with the gateway killed, nginx answers UNAVAILABLE and up starts only the gateway, saying so', async () => {
    const before = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>;
    process.kill(before.gateway!, 'SIGKILL');
    // Its gateway process leaves with it (the cluster IPC channel closes).
    const gatewayPort = Number(env.TIERBOOK_GATEWAY_BASE_PORT);
    for (let i = 0; i < 200 && (isAlive(before.gateway!) || (await listening(gatewayPort))); i++) await sleep(50);
    assert.equal(await listening(gatewayPort), false, 'the gateway port still accepts');
    const nginxTarget = `127.0.0.1:${env.TIERBOOK_NGINX_PORT}`;
    const down = await run(tool('grpcurl'), ['-plaintext', '-import-path', fromRoot('proto'), '-proto', 'tierbook/v1/order_service.proto', '-d', '{}', nginxTarget, 'tierbook.v1.OrderService/GetOrder']);
    assert.match(down.stderr, /Code: Unavailable\s+Message: tierbook gateway unavailable/, down.stderr);

    const up = await cli('up', '--detach');
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /tierbook is partly running: starting gateway\n/);
    for (const part of ['redis', 'postgres', 'nginx']) {
      assert.match(up.out, new RegExp(`  ${part} +pid ${before[part]} \\(already running\\)`), up.out);
    }
    const after = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>;
    assert.match(up.out, new RegExp(`  gateway +pid ${after.gateway} \\(cluster primary, started\\)`), up.out);
    assert.notEqual(after.gateway, before.gateway);
    assert.deepEqual({ ...after, gateway: 0 }, { ...before, gateway: 0 }, 'the parts that ran were left alone');
    // The stack serves again through the same nginx.
    const demo = JSON.parse(readFileSync(join(dir, 'demo-account.json'), 'utf8')) as { apiKey: string };
    const again = await run(tool('grpcurl'), ['-plaintext', '-H', `authorization: Bearer ${demo.apiKey}`, '-d', '{"client_order_id":"hello-1"}', nginxTarget, 'tierbook.v1.OrderService/GetOrder']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /"clientOrderId": "hello-1"/);
  });

  test('down stops exactly the processes it started, by PID', async () => {
    const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(Object.keys(pids).sort(), ['gateway', 'nginx', 'postgres', 'redis']);
    for (const pid of Object.values(pids)) assert.ok(isAlive(pid));
    // The cluster primary forks the gateway processes itself: they are not in pids.json, and
    // must go too.
    const forked = nodeChildrenOf(pids.gateway!);
    assert.equal(forked.length, 1, `one forked gateway process (TIERBOOK_GATEWAY_PROCESSES=1): ${forked.join(', ')}`);
    const down = await cli('down');
    assert.equal(down.code, 0, down.out);
    for (const [name, pid] of Object.entries(pids)) assert.equal(isAlive(pid), false, `${name} (${pid}) still alive`);
    for (const pid of forked) assert.equal(isAlive(pid), false, `forked gateway ${pid} still alive`);
    const status = await cli('status');
    assert.match(status.out, /not running/);
  });
});
