#!/usr/bin/env node
import { addApiKey, createAccount, revokeApiKeys } from '../shared/accounts-store.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createSql } from '../shared/postgres.js';
import { createRedis } from '../shared/redis.js';
import { isTierName, TIERS } from '../domain/tiers.js';
import { migrate } from '../sync/migrate.js';
import { parseFlags } from './args.js';

const USAGE = `usage: tierbook <command>

  accounts create --tier <${TIERS.join('|')}> [--name <name>] [--json]
      Creates an account and prints its API key (shown once; only its hash is stored).
  keys create --account <account id> [--json]
      Issues another API key for an account (rotation: create the new key, move clients, revoke the old).
  keys revoke (--key <api key> | --account <account id>)
      Revokes one key, or every live key of an account. Gateway processes that cached the key
      stop accepting it within TIERBOOK_AUTH_CACHE_MS (5 s by default).
  migrate
      Applies pending database migrations.
  functions prune
      Deletes old versions of the book functions library (tierbook_<hash>) from every Redis
      master, keeping this build's. Run it after a rollout; a process still on an old version
      reloads its library on its next call, so an early prune is harmless.
  rebuild [--force]
      Restores Redis hot state (books, orders, positions, keys) from Postgres after Redis lost
      it. Stop the gateways first; --force rebuilds even if Redis still holds books.

Connections come from TIERBOOK_REDIS_URL and TIERBOOK_DATABASE_URL (see README).`;

/** One row per master: what it kept and what was deleted from it. */
function formatPruned(rows: { node: string; kept: string[]; deleted: string[] }[]): string {
  const table = [['master', 'kept', 'deleted'], ...rows.map((r) => [r.node, r.kept.join(' ') || '-', r.deleted.join(' ') || '-'])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const deleted = rows.reduce((n, r) => n + r.deleted.length, 0);
  return [...table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()),
    `deleted ${deleted} old librar${deleted === 1 ? 'y' : 'ies'} on ${rows.length} master${rows.length === 1 ? '' : 's'}`].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { positional, flags } = parseFlags(argv);
  const config = loadConfig();
  const [cmd, sub] = positional;
  if (cmd === 'accounts' && sub === 'create') {
    const tier = String(flags.tier ?? '').toUpperCase();
    if (!isTierName(tier)) {
      console.error(`--tier must be one of ${TIERS.join(', ')}, got "${String(flags.tier ?? '')}"`);
      return 2;
    }
    const name = typeof flags.name === 'string' ? flags.name : `${tier.toLowerCase()}-account`;
    const sql = createSql(config.databaseUrl, { max: 1, appName: 'tierbook-cli' });
    const redis = createRedis(config.redisUrl);
    try {
      const acct = await createAccount(sql, redis, { name, tier });
      if (flags.json) console.log(JSON.stringify({ accountId: acct.accountId, apiKey: acct.apiKey, tier: acct.tier, name }));
      else {
        console.log(`account  ${acct.accountId} (${acct.tier}, "${name}")`);
        console.log(`api key  ${acct.apiKey}`);
        console.log('Keep the key: it is not stored and cannot be shown again.');
      }
    } finally {
      redis.disconnect();
      await sql.end({ timeout: 2 });
    }
    return 0;
  }
  if (cmd === 'keys' && (sub === 'create' || sub === 'revoke')) {
    const account = typeof flags.account === 'string' ? flags.account : undefined;
    const key = typeof flags.key === 'string' ? flags.key : undefined;
    if (sub === 'create' ? !account : (account === undefined) === (key === undefined)) {
      console.error(sub === 'create' ? 'keys create needs --account <account id>' : 'keys revoke needs exactly one of --key <api key> or --account <account id>');
      return 2;
    }
    const sql = createSql(config.databaseUrl, { max: 1, appName: 'tierbook-cli' });
    const redis = createRedis(config.redisUrl);
    try {
      if (sub === 'create') {
        const made = await addApiKey(sql, redis, account!);
        if (!made) {
          console.error(`no account ${account}`);
          return 1;
        }
        if (flags.json) console.log(JSON.stringify(made));
        else console.log(`api key  ${made.apiKey}  (account ${made.accountId}, ${made.tier})\nKeep the key: it is not stored and cannot be shown again.`);
        return 0;
      }
      const n = await revokeApiKeys(sql, redis, key !== undefined ? { apiKey: key } : { accountId: account! });
      if (n === 0) {
        console.error(key !== undefined ? 'no live key matches --key (unknown, or revoked already)' : `account ${account} has no live key`);
        return 1;
      }
      console.log(`revoked ${n} key${n === 1 ? '' : 's'}; gateways refuse ${n === 1 ? 'it' : 'them'} within TIERBOOK_AUTH_CACHE_MS (${config.gateway.authCacheMs} ms)`);
      return 0;
    } finally {
      redis.disconnect();
      await sql.end({ timeout: 2 });
    }
  }
  if (cmd === 'migrate') {
    const sql = createSql(config.databaseUrl, { max: 1, appName: 'tierbook-cli' });
    try {
      const applied = await migrate(sql, createLogger(config));
      console.log(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await sql.end({ timeout: 2 });
    }
    return 0;
  }
  if (cmd === 'functions' && sub === 'prune') {
    const { pruneBookLibraries } = await import('../shared/book-library.js');
    const redis = createRedis(config.redisUrl);
    try {
      const pruned = await pruneBookLibraries(redis);
      console.log(formatPruned(pruned));
    } finally {
      redis.disconnect();
    }
    return 0;
  }
  if (cmd === 'rebuild') {
    const { runRebuild } = await import('./rebuild.js');
    await runRebuild({ config, force: flags.force === true });
    return 0;
  }
  console.error(USAGE);
  return cmd === undefined || cmd === 'help' || flags.help ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`tierbook: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
