/**
 * What OpenTelemetry tracing costs: two gateways in this process on one Redis and Postgres,
 * one with TIERBOOK_OTEL_EXPORTER=off, one with otlp (to a local receiver that accepts and
 * drops the spans), each driven by the same ghz command in turn (off, on, off, on...): ListOrders
 * (an empty page), closed loop, every call carrying a sampled traceparent, so with tracing
 * on every call is a span exported over OTLP/HTTP.
 *
 *   node dist/bench/tracing-cost.js [--seconds 10] [--rounds 2] [--concurrency 32] [--connections 2]
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { createSql } from '../src/shared/postgres.js';
import { createRedis } from '../src/shared/redis.js';
import { createAccount } from '../src/shared/accounts-store.js';
import { fromRoot } from '../src/shared/paths.js';
import { migrate } from '../src/sync/migrate.js';
import { startGateway } from '../src/server/gateway-process.js';
import { startTestPostgres, startTestRedis } from '../test/support/servers.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    connections: { type: 'string', default: '2' },
  },
});
const ghz = [process.env.GHZ_BIN, fromRoot('.tools', 'bin', 'ghz')].find((p) => p && existsSync(p));
if (!ghz) throw new Error('ghz not found: run scripts/setup.sh');

const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
let spansPosts = 0;
receiver.on('request', () => spansPosts++);
const servers = await Promise.all([startTestRedis(), startTestPostgres()]);
const env = {
  TIERBOOK_REDIS_URL: servers[0]!.url,
  TIERBOOK_DATABASE_URL: servers[1]!.url,
  TIERBOOK_LOG_LEVEL: 'warn',
  TIERBOOK_RATE_LIMIT_ELITE: '0',
  TIERBOOK_PREMIUM_THREADS: '1',
  TIERBOOK_SHARED_THREADS: '1',
};
const off = loadConfig(env);
const on = loadConfig({ ...env, TIERBOOK_OTEL_EXPORTER: 'otlp', TIERBOOK_OTEL_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces` });
const sql = createSql(off.databaseUrl, { max: 2 });
const redis = createRedis(off.redisUrl);
try {
  await migrate(sql);
  const acct = await createAccount(sql, redis, { name: 'tracing-bench', tier: 'ELITE' });
  const gateways = {
    off: await startGateway(off, createLogger(off, { role: 'gateway' }), 0, 'gateway-off'),
    on: await startGateway(on, createLogger(on, { role: 'gateway' }), 0, 'gateway-on'),
  };
  const metadata = JSON.stringify({ authorization: `Bearer ${acct.apiKey}`, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
  // Asynchronously: the gateways answer on this process's event loop.
  const run = async (port: number) => {
    const { stdout: out } = await promisify(execFile)(ghz, [
      '--insecure', '--call', 'tierbook.v1.OrderService/ListOrders', '-d', '{"page_size":10}', '-m', metadata,
      '--connections', args.connections!, '-c', args.concurrency!, '-z', `${args.seconds}s`, '--duration-stop', 'wait', '--format', 'json', `127.0.0.1:${port}`,
    ], { maxBuffer: 512 * 1024 * 1024 });
    const r = JSON.parse(out) as { rps: number; count: number; statusCodeDistribution: Record<string, number>; latencyDistribution: { percentage: number; latency: number }[] };
    const p = (q: number) => (r.latencyDistribution.find((d) => d.percentage === q)?.latency ?? NaN) / 1e6;
    return { rps: r.rps, count: r.count, statuses: r.statusCodeDistribution, p50: p(50), p99: p(99) };
  };
  console.log(`tracing cost: ghz ListOrders (empty, OK), closed loop, ${args.connections} connections, concurrency ${args.concurrency}, ${args.seconds} s per run; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const totals = { off: [] as number[], on: [] as number[] };
  await run(gateways.off.port); // warm-up: JIT, pools, auth cache
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const mode of ['off', 'on'] as const) {
      const r = await run(gateways[mode].port);
      totals[mode].push(r.rps);
      console.log(`round ${round} tracing ${mode.padEnd(3)}: ${r.rps.toFixed(0)} calls/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${JSON.stringify(r.statuses)}`);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`mean: off ${mean(totals.off).toFixed(0)} calls/s, on ${mean(totals.on).toFixed(0)} calls/s (on/off ${(mean(totals.on) / mean(totals.off)).toFixed(3)}); OTLP posts received ${spansPosts}`);
  await Promise.all([gateways.off.shutdown(), gateways.on.shutdown()]);
} finally {
  redis.disconnect();
  await sql.end({ timeout: 2 });
  await Promise.all(servers.map((s) => s.stop()));
  receiver.close();
}
