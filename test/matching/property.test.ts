import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { startTestRedis, type TestServer } from '../support/servers.js';
import { commandsArb, coverage, resetRedis, runAndCompare } from './property-driver.js';

let srv: TestServer;
let redis: Redis;
before(async () => {
  srv = await startTestRedis();
  redis = new Redis(srv.url);
});
after(async () => {
  redis.disconnect();
  await srv.stop();
});

const RUNS = Number(process.env.TIERBOOK_PROPERTY_RUNS ?? 1200);

test('random place/cancel/amend sequences match the reference model (standalone Redis)', { timeout: 300_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb(60), async (commands) => {
      await resetRedis(redis, () => redis.flushall());
      await runAndCompare(redis, commands);
    }),
    { numRuns: RUNS },
  );
  if (process.env.TIERBOOK_PROPERTY_COVERAGE) console.log([...coverage].sort());
});
