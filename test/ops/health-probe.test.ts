/**
 * The health checks operators and orchestrators run: grpc-health-probe (pinned, installed
 * by scripts/setup.sh into .tools/bin) against a real 2-process cluster, through nginx and on
 * each gateway's own port, for the whole server and each service; and what a probe sees while
 * one gateway drains (NOT_SERVING during its health grace, TIERBOOK_DRAIN_HEALTH_GRACE_MS).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../../src/devstack/ports.js';
import { fromRoot } from '../../src/shared/paths.js';
import { run, tool } from '../support/tools.js';
import { startOpsCluster, waitFor, type OpsCluster } from './support/cluster.js';

const SERVICES = ['', 'tierbook.v1.OrderService', 'tierbook.v1.AnalyticsService'];
const label = (svc: string) => svc || '(server)';

let cluster: OpsCluster;
/** The draining process's health grace here: long enough for a few fresh probes. */
const GRACE_MS = 1_500;
before(async () => {
  cluster = await startOpsCluster({ processes: 2, env: { TIERBOOK_DRAIN_HEALTH_GRACE_MS: String(GRACE_MS) } });
});
after(async () => {
  await cluster?.stop();
});

/** One grpc-health-probe run: its exit code (0 SERVING, 2 connection, 3 RPC failure, 4 not SERVING) and output. */
async function probe(addr: string, svc: string, timeout = '1s') {
  const args = ['-addr', addr, '-connect-timeout', timeout, '-rpc-timeout', timeout, ...(svc ? ['-service', svc] : [])];
  const r = await run(tool('grpc-health-probe'), args, 15_000);
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

test('grpc-health-probe: SERVING for the server and each service, through nginx and on each gateway port', async (t) => {
  for (const addr of [cluster.target, ...cluster.gatewayPorts.map((p) => `127.0.0.1:${p}`)]) {
    for (const svc of SERVICES) {
      const r = await probe(addr, svc);
      t.diagnostic(`${addr === cluster.target ? 'nginx  ' : 'gateway'} ${addr} ${label(svc)}: exit ${r.code}, ${r.out}`);
      assert.deepEqual(r, { code: 0, out: 'status: SERVING' }, `${addr} ${label(svc)}`);
    }
  }
  // A service this server does not have is an error, not a healthy answer.
  const unknown = await probe(cluster.target, 'tierbook.v1.NoSuchService');
  t.diagnostic(`nginx ${cluster.target} tierbook.v1.NoSuchService: exit ${unknown.code}, ${unknown.out}`);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /NotFound|unknown service/i);
});

type Check = (req: { service: string }, opts: { deadline: number }, cb: (err: ServiceError | null, res?: { status: string }) => void) => void;

test('while a gateway drains: connected clients and a fresh grpc-health-probe read NOT_SERVING, then its port closes; nginx still serves', async (t) => {
  const port = cluster.gatewayPorts[1]!;
  const Health = makeGenericClientConstructor(healthService, 'Health');
  // A client connected before the drain (as a sidecar or a load balancer keeps its connection).
  const client = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & { Check: Check };
  const check = (svc: string) =>
    new Promise<string>((resolve) => client.Check({ service: svc }, { deadline: Date.now() + 1_000 }, (err, res) => resolve(err ? `error ${err.code}` : res!.status)));
  assert.deepEqual(await Promise.all(SERVICES.map(check)), SERVICES.map(() => 'SERVING'));

  const before = await cluster.readiness();
  const pid = before.gateways[1]!.pid!;
  const signalled = Date.now();
  process.kill(pid, 'SIGTERM');
  const seen = new Map<string, string[]>(SERVICES.map((s) => [s, []]));
  // Fresh grpc-health-probe runs on the draining port (a new connection each), for the server
  // and each service in turn, until one cannot connect: the process stopped accepting.
  const fresh = (async () => {
    const runs: { svc: string; code: number; out: string; atMs: number }[] = [];
    for (let i = 0; Date.now() - signalled < GRACE_MS + 5_000; i++) {
      const svc = SERVICES[i % SERVICES.length]!;
      const r = await probe(`127.0.0.1:${port}`, svc, '300ms');
      runs.push({ svc, ...r, atMs: Date.now() - signalled });
      if (r.code !== 4) break;
    }
    return runs;
  })();
  // Through nginx during the grace: each probe reaches one of the two processes.
  const viaNginxDuring = (async () => {
    const outs: string[] = [];
    while (Date.now() - signalled < GRACE_MS - 300) outs.push((await probe(cluster.target, '', '1s')).out);
    return outs;
  })();
  // Ask until the draining process lets the connection go (its GOAWAY): at most grace + 5 s.
  for (const until = Date.now() + GRACE_MS + 5_000; Date.now() < until;) {
    const answers = await Promise.all(SERVICES.map(check));
    answers.forEach((a, i) => {
      const list = seen.get(SERVICES[i]!)!;
      if (list.at(-1) !== a) list.push(a);
    });
    if (answers.every((a) => a.startsWith('error'))) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  client.close();
  for (const [svc, list] of seen) {
    t.diagnostic(`connected client, ${label(svc)}: ${list.join(' -> ')}`);
    assert.ok(list.includes('NOT_SERVING'), `${label(svc)} read NOT_SERVING during the drain: ${list.join(' -> ')}`);
    assert.ok(!list.slice(list.indexOf('NOT_SERVING')).includes('SERVING'), 'and never SERVING again from the draining process');
  }
  // During the grace the process still accepts: a fresh probe reads NOT_SERVING (exit 4) for
  // the server and each service; after it, the port refuses (exit 2), never SERVING.
  const runs = await fresh;
  for (const r of runs) t.diagnostic(`grpc-health-probe on the draining port ${port}, ${label(r.svc)}, ${r.atMs} ms after SIGTERM: exit ${r.code}, ${r.out}`);
  const graced = runs.filter((r) => r.code === 4);
  assert.ok(graced.length >= SERVICES.length, `a fresh probe read NOT_SERVING for the server and each service: ${JSON.stringify(runs)}`);
  for (const r of graced) assert.equal(r.out, 'service unhealthy (responded with "NOT_SERVING")');
  const last = runs.at(-1)!;
  assert.equal(last.code, 2, `after the grace the port refuses the connection: ${last.out}`);
  assert.ok(last.atMs >= GRACE_MS, `and not before the grace ended (${last.atMs} ms)`);
  // nginx answers throughout: SERVING from the process that serves, NOT_SERVING from the
  // draining one while it is in its grace; once the draining port is closed, SERVING.
  const during = await viaNginxDuring;
  const tally = [...new Set(during)].map((o) => `${during.filter((d) => d === o).length} x ${o}`);
  t.diagnostic(`grpc-health-probe through nginx during the grace: ${tally.join(', ')}`);
  assert.ok(during.length > 0 && during.every((o) => o === 'status: SERVING' || o === 'service unhealthy (responded with "NOT_SERVING")'), during.join(' | '));
  const nginx = await probe(cluster.target, '', '5s');
  t.diagnostic(`grpc-health-probe through nginx after the grace: exit ${nginx.code}, ${nginx.out}`);
  assert.deepEqual(nginx, { code: 0, out: 'status: SERVING' });

  // The supervisor restarts the slot; its replacement serves on the same port.
  await waitFor('the slot restarted and ready', async () => {
    const r = await cluster.readiness();
    return r.ready && r.gateways[1]!.pid !== pid;
  });
  const again = await probe(`127.0.0.1:${port}`, '');
  t.diagnostic(`grpc-health-probe on port ${port} after the restart: exit ${again.code}, ${again.out}`);
  assert.deepEqual(again, { code: 0, out: 'status: SERVING' });
});

test("the gateway unit's ExecStartPost waits with grpc-health-probe until a gateway serves", async () => {
  const unit = readFileSync(fromRoot('deploy', 'systemd', 'tierbook-gateway.service'), 'utf8');
  const line = /^ExecStartPost=\/bin\/sh -c '(.*)'$/m.exec(unit);
  assert.ok(line, 'tierbook-gateway.service has an ExecStartPost health wait');
  // systemd turns $$ into $; the install folder is this checkout.
  const script = line[1]!.replaceAll('$$', '$').replaceAll('/opt/tierbook/.tools/bin/grpc-health-probe', tool('grpc-health-probe'));
  const env = (port: number) => ({ ...process.env, TIERBOOK_GATEWAY_BASE_PORT: String(port) });
  const ok = spawnSync('/bin/sh', ['-c', script], { env: env(cluster.gatewayPorts[0]!), encoding: 'utf8', timeout: 30_000 });
  assert.equal(ok.status, 0, ok.stderr);
  // Nothing listens on a free port: the wait keeps trying (cut short here by the timeout).
  const none = spawnSync('/bin/sh', ['-c', script], { env: env(await freePort()), encoding: 'utf8', timeout: 3_000 });
  assert.notEqual(none.status, 0);
});
