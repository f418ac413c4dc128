/**
 * A gateway's cold-start burst of authentications: N accounts, one call each, all at once,
 * none in the process cache yet (a gateway just started, or every entry expired together).
 * Compares the gateway's lookups (AuthLookups: single-flight, the misses of one turn in one
 * Redis pipeline and one Postgres query) with one lookup per call (an AuthLookups of its own
 * for every call, which is what the gateway did before), on private Redis and Postgres:
 *
 *   npx tsc -p tsconfig.json && flock /tmp/tierbook-box.lock node dist/bench/auth-cold-start.js [--accounts 2000] [--rounds 5]
 *
 * Two cases: keys in Redis (the usual cold start) and keys Redis has lost (after a flush:
 * every lookup falls back to Postgres). Reported per burst: wall time (median of the rounds),
 * Redis read events and HGETALL calls (INFO, summed over masters), and Postgres queries.
 * TIERBOOK_TEST_REDIS_CLUSTER=1 runs it on a 3-master Redis Cluster.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import postgres from 'postgres';
import { AuthLookups } from '../src/server/auth-lookups.js';
import { authKey, hashApiKey, newApiKey, restoreAuthKeys } from '../src/shared/accounts-store.js';
import { createRedis, crossSlotPipeline, masters } from '../src/shared/redis.js';
import { migrate } from '../src/sync/migrate.js';
import { startTestPostgres } from '../test/support/servers.js';
import { ON_CLUSTER, startSwitchableRedis } from '../test/support/test-redis.js';

const { values } = parseArgs({ options: { accounts: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.accounts);
const ROUNDS = Number(values.rounds);

const [redisSrv, pgSrv] = await Promise.all([startSwitchableRedis(), startTestPostgres()]);
const redis = createRedis(redisSrv.url);
let queries = 0;
const sql = postgres(pgSrv.url, { max: 4, onnotice: () => {}, debug: (_c: number, q: string) => void (/FROM api_keys/.test(q) && queries++) });
const logger = pino({ level: 'silent' });

async function counters(): Promise<{ reads: number; hgetall: number }> {
  let reads = 0;
  let hgetall = 0;
  for (const node of await masters(redis)) {
    const info = (await node.info('all')) as string;
    reads += Number(/total_reads_processed:(\d+)/.exec(info)![1]);
    hgetall += Number(/cmdstat_hgetall:calls=(\d+)/.exec(info)?.[1] ?? 0);
  }
  return { reads, hgetall };
}

type Mode = 'batched' | 'per call';

/** One burst: every key looked up once, concurrently. */
async function burst(hashes: string[], mode: Mode): Promise<{ ms: number; reads: number; hgetall: number; queries: number }> {
  const shared = new AuthLookups({ redis, sql, logger });
  const a = await counters();
  const q = queries;
  const t0 = performance.now();
  const found = await Promise.all(hashes.map((h) => (mode === 'batched' ? shared : new AuthLookups({ redis, sql, logger })).lookup(h)));
  const ms = performance.now() - t0;
  const b = await counters();
  if (found.some((p) => !p)) throw new Error('a key was not found');
  const nodes = (await masters(redis)).length;
  return { ms, reads: b.reads - a.reads - nodes, hgetall: b.hgetall - a.hgetall, queries: queries - q };
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

try {
  await migrate(sql);
  const keys = Array.from({ length: N }, () => newApiKey());
  const hashes = keys.map(hashApiKey);
  await sql`INSERT INTO accounts (account_id, name, tier) SELECT 'acc_b' || i, 'bench', 'PRO' FROM generate_series(1, ${N}::int) i`;
  await sql`INSERT INTO api_keys (key_hash, account_id) SELECT h, 'acc_b' || i FROM unnest(${hashes}::text[]) WITH ORDINALITY AS t(h, i)`;
  await Promise.all((await masters(redis)).map((n) => n.ping()));
  console.log(`auth cold-start burst: ${N} new keys at once, ${ROUNDS} rounds, ${ON_CLUSTER ? '3-master Redis Cluster' : 'one Redis'}`);
  console.log('case                     mode        wall ms  redis reads  HGETALL  pg queries');
  for (const lost of [false, true]) {
    for (const mode of ['per call', 'batched'] as Mode[]) {
      const runs = [];
      for (let r = 0; r < ROUNDS; r++) {
        if (lost) await crossSlotPipeline(redis, hashes.map((h) => ['del', authKey(h)])).exec();
        else await restoreAuthKeys(sql, redis);
        runs.push(await burst(hashes, mode));
      }
      const m = runs[Math.floor(runs.length / 2)]!;
      console.log(`${(lost ? 'Redis lost the keys' : 'keys in Redis').padEnd(24)} ${mode.padEnd(10)} ${median(runs.map((x) => x.ms)).toFixed(1).padStart(8)} ${String(median(runs.map((x) => x.reads))).padStart(12)} ${String(m.hgetall).padStart(8)} ${String(m.queries).padStart(11)}`);
    }
  }
} finally {
  redis.disconnect();
  await sql.end({ timeout: 2 });
  await Promise.all([redisSrv.stop(), pgSrv.stop()]);
}
