import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

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
  let corked: Socket | undefined;
  const release = (): void => {
    const s = corked;
    corked = undefined;
    s?.uncork();
  };
  const hold = (): void => {
    const s = (redis as unknown as { stream?: Socket }).stream;
    if (corked || !s || s.destroyed) return;
    corked = s;
    s.cork();
    setImmediate(release);
  };
  // Before ioredis parses the replies: the continuations they wake send in this turn.
  redis.on('connect', () => (redis as unknown as { stream: Socket }).stream.prependListener('data', hold));
  return { hold };
}
