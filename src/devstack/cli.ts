import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createSql } from '../shared/postgres.js';
import { createRedis } from '../shared/redis.js';
import { createAccount, restoreAuthKeys } from '../shared/accounts-store.js';
import { migrate } from '../sync/migrate.js';
import { fromRoot } from '../shared/paths.js';
import { clusterUrl } from './redis-cluster.js';
import { isAlive } from './process.js';
import {
  clusterPorts, liveParts, readClusterState, readState, stackDir, startGatewayCluster, startPostgresPart, startProxy, startRedisPart, stopParts, stopStack, STACK_ORDER, type StackState,
} from './stack.js';
import { stackHostAddresses } from './stack-hosts.js';

/**
 * `npm run stack` / `stack:stop` / `stack:status`: the whole local stack on loopback, from
 * Debian's packages, with its data in .stack/. `up` stays in the foreground; Ctrl-C stops
 * exactly what it started.
 */

interface DemoAccount {
  accountId: string;
  apiKey: string;
  tier: string;
}

async function prepareData(config: Config): Promise<DemoAccount> {
  const logger = createLogger({ ...config, logLevel: 'warn' });
  const sql = createSql(config.databaseUrl, { max: 1, appName: 'tierbook-stack' });
  const redis = createRedis(config.redisUrl);
  try {
    const applied = await migrate(sql, logger);
    console.log(applied.length ? `  migrations   applied ${applied.length} (${applied.join(', ')})` : '  migrations   up to date');
    // Redis may have restarted empty; Postgres holds every key.
    await restoreAuthKeys(sql, redis);
    const demoFile = join(stackDir(), 'demo-account.json');
    if (existsSync(demoFile)) return JSON.parse(readFileSync(demoFile, 'utf8')) as DemoAccount;
    const acct = await createAccount(sql, redis, { name: 'demo', tier: 'ELITE' });
    const demo = { accountId: acct.accountId, apiKey: acct.apiKey, tier: acct.tier };
    writeFileSync(demoFile, JSON.stringify(demo, null, 2), { mode: 0o600 });
    return demo;
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 2 });
  }
}

/** Where the gateways listen: the one bind address, or every host's. */
function gatewayAddresses(config: Config): string {
  const hosts = stackHostAddresses(stackDir());
  return hosts ? `{${hosts.join(',')}}` : config.gateway.host;
}

function printSummary(config: Config, demo: DemoAccount): void {
  const grpcurl = existsSync(fromRoot('.tools', 'bin', 'grpcurl')) ? '.tools/bin/grpcurl' : 'grpcurl';
  const n = config.gateway.processes;
  const premium = config.gateway.premiumProcesses;
  const hosts = stackHostAddresses(stackDir());
  const hostsNote = hosts ? ` on each of ${hosts.length} hosts, each with its own sync consumer and admin port ${config.adminPort}` : '';
  console.log(`
tierbook is up
  gRPC (nginx)   127.0.0.1:${config.nginxPort}${premium ? ` (every tier); premium accounts: 127.0.0.1:${config.nginxPremiumPort}` : ''}
  gateways       ${gatewayAddresses(config)}:${config.gateway.basePort}-${config.gateway.basePort + n - 1} (${n} processes${hostsNote}${premium ? `, the first ${premium} premium-only` : ''})
  redis          ${config.redisUrl}${config.redisUrl.startsWith('redis-cluster:') ? `\n                 (other tools and the CLI: export TIERBOOK_REDIS_URL=${config.redisUrl})` : ''}
  postgres       ${config.databaseUrl}
  logs, data     ${stackDir()}
  demo account   ${demo.accountId} (${demo.tier}), key in ${join(stackDir(), 'demo-account.json')}

Try it:
  ${grpcurl} ${config.gateway.tls ? `-cacert ${config.gateway.tls.certFile}` : '-plaintext'} -H 'authorization: Bearer ${demo.apiKey}' \\
    -d '{"symbol":"AAPL","side":"SIDE_BUY","type":"ORDER_TYPE_LIMIT","price_ticks":"1900000","quantity_lots":"10","client_order_id":"hello-1"}' \\
    127.0.0.1:${config.nginxPort} tierbook.v1.OrderService/PlaceOrder

Stop with Ctrl-C here, or \`npm run stack:stop\` from another terminal.`);
}

/** How each part is started, in STACK_ORDER; `note` follows its pid in what `up` prints. */
const STARTERS: Record<keyof StackState, { start: (config: Config, state: StackState) => Promise<void>; note?: string }> = {
  redis: { start: startRedisPart },
  postgres: { start: startPostgresPart },
  gateway: { start: startGatewayCluster, note: 'cluster primary' },
  nginx: { start: startProxy },
};

/**
 * Starts the parts of the stack that do not run: all of them on a fresh machine, or only the
 * dead ones when some still run (e.g. the gateway crashed while Redis, Postgres and nginx
 * stayed up), saying which it started and which it found running. Ctrl-C stops exactly what
 * this command started.
 */
async function up(args: string[]): Promise<number> {
  const detach = args.includes('--detach');
  const state = readState();
  // Cluster mode: `--redis-cluster N` now, or the cluster a partly running stack was started with.
  const nodes = clusterFlag(args);
  if (nodes === 'invalid') {
    console.error('--redis-cluster needs a number of masters, at least 3 (e.g. --redis-cluster 3)');
    return 2;
  }
  if (nodes !== undefined) process.env.TIERBOOK_REDIS_URL = clusterUrl(clusterPorts(loadConfig(), nodes));
  else if (liveParts(state).length > 0 && readClusterState()) process.env.TIERBOOK_REDIS_URL = readClusterState()!.url;
  const running = new Set(liveParts(state));
  if (running.size === STACK_ORDER.length) {
    console.log(`tierbook stack is already running (${[...running].join(', ')}); stop it with \`npm run stack:stop\``);
    return 1;
  }
  const missing = STACK_ORDER.filter((p) => !running.has(p));
  for (const part of missing) delete state[part];
  const partial = running.size > 0;
  const config = loadConfig();
  const started: (keyof StackState)[] = [];
  try {
    console.log(partial ? `tierbook is partly running: starting ${missing.join(', ')}` : 'starting tierbook');
    let demo: DemoAccount | undefined;
    for (const part of STACK_ORDER) {
      // Migrations and auth keys once both data stores run, before any gateway serves.
      if (part === 'gateway') demo = await prepareData(config);
      const { start, note } = STARTERS[part];
      if (running.has(part)) {
        console.log(`  ${part.padEnd(12)} pid ${state[part]} (already running)`);
        continue;
      }
      await start(config, state);
      started.push(part);
      const details = [note, partial ? 'started' : undefined].filter(Boolean).join(', ');
      console.log(`  ${part.padEnd(12)} pid ${state[part]}${details ? ` (${details})` : ''}`);
    }
    printSummary(config, demo!);
  } catch (err) {
    console.error(`start failed: ${err instanceof Error ? err.message : String(err)}; see the logs in ${stackDir()}`);
    await (partial ? stopParts(started) : stopStack());
    return 1;
  }
  if (partial) console.log(`Ctrl-C here stops what this command started (${started.join(', ')}); \`npm run stack:stop\` stops all of it.`);
  if (detach) return 0;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('\nstopping tierbook');
  await (partial ? stopParts(started) : stopStack());
  return 0;
}

/** The `--redis-cluster N` option of `up`: undefined without it. */
function clusterFlag(args: string[]): number | 'invalid' | undefined {
  const i = args.indexOf('--redis-cluster');
  if (i < 0) return undefined;
  const n = Number(args[i + 1]);
  return Number.isInteger(n) && n >= 3 ? n : 'invalid';
}

async function main(cmd: string | undefined, args: string[]): Promise<number> {
  switch (cmd) {
    case 'up': {
      // --hosts N: N gateway hosts on 127.0.0.2.. (src/devstack/stack-hosts.ts); the parts
      // started below read it from the environment, as a restart by `up` would.
      const hosts = args.indexOf('--hosts');
      if (hosts >= 0) process.env.TIERBOOK_STACK_HOSTS = args[hosts + 1] ?? '';
      return up(args);
    }
    case 'down':
      if (liveParts().length === 0) console.log('tierbook stack is not running');
      await stopStack();
      return 0;
    case 'status': {
      const state = readState();
      const live = new Set(liveParts(state));
      for (const part of STACK_ORDER) {
        if (state[part] !== undefined) console.log(`${part.padEnd(10)} pid ${state[part]}  ${live.has(part) ? 'running' : 'stopped'}`);
      }
      const cluster = readClusterState();
      if (cluster) {
        const alive = cluster.pids.filter((p) => isAlive(p)).length;
        console.log(`redis cluster: ${cluster.pids.length} masters, ${alive} running (pids ${cluster.pids.join(', ')}), ${cluster.url}`);
      }
      if (live.size === 0) console.log('tierbook stack is not running');
      return live.size > 0 ? 0 : 3;
    }
    default:
      console.error('usage: stack up [--detach] [--hosts N] [--redis-cluster N] | down | status');
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then((code) => process.exit(code));
