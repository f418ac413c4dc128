import type { Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';
import { corkConnections, isCluster } from '../shared/redis.js';

/**
 * Pipelined Redis per batch: the commands a thread's calls send in one turn of the event loop
 * leave in one socket write, and Redis reads and answers them together.
 *
 * A batch of calls (the gateway's CallBatcher sends the calls of one event-loop turn as one
 * task) starts every call in the same turn, and the replies to their commands arrive together,
 * so their continuations again send in the same turn (a place's book script after its client
 * order id reservation). ioredis writes each command to the socket as it is sent; corking the
 * socket at those two moments and uncorking it on the next `setImmediate` (after the turn's
 * microtasks) turns N writes into one. Every command is still its own command: one script
 * call per order, so per-order atomicity and results are exactly as without it.
 *
 * ioredis' own auto-pipelining is not used: it keeps one pipeline in flight per connection
 * and holds new commands until the previous pipeline's replies are back, which measured
 * slower with many calls in flight (docs/loadtest.md, component benchmarks).
 */
export interface TurnWrites {
  /** Holds this turn's writes on the connection and sends them together after it. */
  hold(): void;
}

export function writePerTurn(redis: Redis): TurnWrites {
  const connections = new Set<Redis>();
  let release: (() => void) | undefined;
  const hold = (): void => {
    if (release) return;
    release = corkConnections(connections);
    if (release) {
      setImmediate(() => {
        const uncork = release!;
        release = undefined;
        uncork();
      });
    }
  };
  // Before ioredis parses the replies: the continuations they wake send in this turn.
  const watch = (c: Redis): void => {
    connections.add(c);
    c.on('connect', () => (c as unknown as { stream: Socket }).stream.prependListener('data', hold));
  };
  if (isCluster(redis)) {
    // A Cluster client is one connection per master, each added as the slot table is learnt:
    // a turn's writes are held on every one of them.
    const cluster = redis as unknown as Cluster;
    cluster.on('+node', watch);
    cluster.on('-node', (c: Redis) => connections.delete(c));
  } else {
    watch(redis);
  }
  return { hold };
}
