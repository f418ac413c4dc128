/**
 * A worker thread's batch sends its Redis commands in one write (src/workers/write-per-turn.ts),
 * and every command still gets its own reply: results, script replies and errors per call.
 * A small TCP relay in front of Redis counts the chunks Redis receives.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { instrumentKey } from '../../src/domain/matching/keys.js';
import { orderScripts } from '../../src/workers/orders/scripts.js';
import { writePerTurn } from '../../src/workers/write-per-turn.js';
import { startTestRedis, type TestServer } from '../support/servers.js';

let srv: TestServer;
let relay: Server;
let relayPort = 0;
/** Chunks the relay read from the client since the last reset. */
let chunks = 0;

before(async () => {
  srv = await startTestRedis();
  const target = new URL(srv.url);
  relay = createServer((client) => {
    const upstream = createConnection(Number(target.port), target.hostname);
    client.on('data', (d) => { chunks++; upstream.write(d); });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayPort = (relay.address() as { port: number }).port;
});
after(async () => { relay.close(); await srv.stop(); });

test('a held turn sends many calls in one write and answers each call on its own', async () => {
  const redis = new Redis({ port: relayPort, host: '127.0.0.1', enableAutoPipelining: false });
  const writes = writePerTurn(redis);
  redis.defineCommand('echoKey', { lua: "if ARGV[1] == 'bad' then return redis.error_reply('BAD') end return KEYS[1] .. ARGV[1]", numberOfKeys: 1 });
  const echo = (k: string, a: string) => (redis as unknown as { echoKey(k: string, a: string): Promise<string> }).echoKey(k, a);
  await redis.ping();
  await echo('k', 'warm'); // the script is loaded: later calls are plain EVALSHA

  chunks = 0;
  writes.hold();
  const calls = Array.from({ length: 50 }, (_, i) => i === 7 ? echo('k', 'bad') : echo(`k${i}`, `-${i}`));
  const set = redis.set('plain', 'v');
  const results = await Promise.allSettled([...calls, set]);
  assert.equal(chunks, 1, 'one write for the turn');
  results.forEach((r, i) => {
    if (i === 7) assert.ok(r.status === 'rejected' && /BAD/.test(String(r.reason)), 'the failing call fails alone');
    else if (i === 50) assert.deepEqual(r, { status: 'fulfilled', value: 'OK' });
    else assert.deepEqual(r, { status: 'fulfilled', value: `k${i}-${i}` });
  });

  // Replies wake the next commands in one turn too (a place's script after its reservation).
  chunks = 0;
  const chained = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const v = await redis.incr(`n${i}`);
    return echo(`c${i}`, `=${v}`);
  }));
  assert.deepEqual(chained, Array.from({ length: 20 }, (_, i) => `c${i}=1`));
  assert.ok(chunks <= 2, `the 20 scripts left together after their replies (${chunks} chunks for 40 commands)`);
  redis.disconnect();
});

test('book functions (FCALL) leave in one write too, and so do their retries after the library was flushed', async () => {
  const redis = new Redis({ port: relayPort, host: '127.0.0.1', enableAutoPipelining: false });
  const writes = writePerTurn(redis);
  const scripts = orderScripts(redis);
  // A cancel on a book that is not listed: a real FCALL that changes nothing.
  const cancel = (i: number) => scripts.cancel(instrumentKey(`NONE${i}`), 'acct', `NONE${i}:1`, '', '');
  const notFound = (replies: string[]) => replies.forEach((r) => assert.equal(JSON.parse(r).e, 'ORDER_NOT_FOUND'));
  await redis.ping();
  notFound([await cancel(0)]); // the first call loads the library

  chunks = 0;
  writes.hold();
  notFound(await Promise.all(Array.from({ length: 30 }, (_, i) => cancel(i))));
  assert.equal(chunks, 1, 'one write for the turn');

  await redis.call('FUNCTION', 'FLUSH');
  chunks = 0;
  writes.hold();
  notFound(await Promise.all(Array.from({ length: 30 }, (_, i) => cancel(i))));
  // The 30 calls, one FUNCTION LOAD for all of them, the 30 calls again.
  assert.ok(chunks <= 3, `${chunks} writes for 30 calls that had to load the library`);
  redis.disconnect();
});
