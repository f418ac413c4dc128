import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import { createPool, type Pool } from 'generic-pool';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ApiError, toWireError } from '../domain/errors.js';
import { eventStreamKey } from '../domain/events.js';
import {
  compareStreamIds, decodeCursor, encodeCursor, type StreamPositions,
} from '../domain/matching/execution-cursor.js';
import type { TierName } from '../domain/tiers.js';
import {
  ExecutionType, StreamExecutionsRequestSchema, StreamExecutionsResponseSchema, type StreamExecutionsResponse,
} from '../gen/tierbook/v1/order_service_pb.js';
import { createBlockingRedis } from '../shared/redis.js';
import { readStreams } from '../shared/stream-reads.js';
import { executionFor } from '../workers/orders/execution-events.js';
import { toServiceError } from './status.js';

/**
 * StreamExecutions, in the gateway process. One shared live reader per process (its own
 * connection, XREAD BLOCK over every book stream) fans entries out to the subscribers; each
 * subscriber filters them for its account. A subscriber resuming from a cursor registers
 * first (live entries are buffered), catches up with XRANGE on a connection borrowed from a
 * bounded generic-pool, then replays its buffer skipping ids it has already sent: no gap
 * (everything after the cursor is in the XRANGE or the buffer) and no repeat (ids only grow).
 *
 * A client can tell it is subscribed: the response headers go out as soon as the subscriber
 * is registered, carrying the cursor the stream starts from (`tierbook-stream-cursor`) and
 * the heartbeat interval (`tierbook-heartbeat-interval-ms`); a stream with nothing to send
 * for that long gets a HEARTBEAT message with its current cursor, so a client or proxy can
 * tell a dead stream from a quiet one.
 */
export interface ExecutionStreamDeps {
  redisUrl: string;
  logger: Logger;
  /** The listed symbols; read on every poll, so new books are picked up. */
  symbols: () => string[];
  /** Streams open at once in this process; more get RESOURCE_EXHAUSTED. */
  maxSubscribers: number;
  /** Connections for catch-up reads (default 4). */
  catchUpConnections?: number;
  /** Silence after which a subscriber gets a HEARTBEAT message (default 15000 ms). */
  heartbeatMs?: number;
}

/** Response header names of StreamExecutions (see the proto). */
export const STREAM_CURSOR_HEADER = 'tierbook-stream-cursor';
export const HEARTBEAT_INTERVAL_HEADER = 'tierbook-heartbeat-interval-ms';
const DEFAULT_HEARTBEAT_MS = 15_000;

export interface ExecutionStreams {
  handle(call: ServerWritableStream<Buffer, Buffer>, account: { accountId: string; tier: TierName }): void;
  close(): Promise<void>;
}

type Entry = [id: string, fields: string[]];
const BLOCK_MS = 1000;
const BATCH = 512;
/** A subscriber this far behind in bytes is cut off rather than buffered without limit. */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

class Subscriber {
  live = false;
  private readonly buffer: [string, Entry][] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  constructor(
    readonly accountId: string,
    readonly call: ServerWritableStream<Buffer, Buffer>,
    readonly positions: StreamPositions,
    private readonly onOverflow: (s: Subscriber) => void,
  ) {}

  /** A live entry from the shared reader. */
  offer(symbol: string, entry: Entry): void {
    if (this.live) this.send(symbol, entry);
    else this.buffer.push([symbol, entry]);
  }

  /** Sends one entry if it is newer than what this subscriber has seen of that book. */
  send(symbol: string, [id, fields]: Entry): void {
    const seen = this.positions[symbol];
    if (seen !== undefined && compareStreamIds(id, seen) <= 0) return;
    this.positions[symbol] = id;
    const msg = executionFor(this.accountId, fields);
    if (!msg) return;
    msg.cursor = encodeCursor(this.positions);
    this.write(msg);
  }

  private write(msg: StreamExecutionsResponse): void {
    this.call.write(Buffer.from(toBinary(StreamExecutionsResponseSchema, msg)));
    this.heartbeat?.refresh(); // the interval counts from the last message of any kind
    if (this.call.writableLength > MAX_BACKLOG_BYTES) this.onOverflow(this);
  }

  /** Sends the headers now, then a HEARTBEAT after every `ms` without a message. */
  announce(ms: number): void {
    const md = new Metadata();
    md.set(STREAM_CURSOR_HEADER, encodeCursor(this.positions));
    md.set(HEARTBEAT_INTERVAL_HEADER, String(ms));
    this.call.sendMetadata(md);
    this.heartbeat = setInterval(() => {
      this.write(create(StreamExecutionsResponseSchema, {
        type: ExecutionType.HEARTBEAT, cursor: encodeCursor(this.positions), eventTime: timestampNow(),
      }));
    }, ms);
    this.heartbeat.unref();
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }

  goLive(): void {
    for (const [symbol, entry] of this.buffer.splice(0)) this.send(symbol, entry);
    this.live = true;
  }
}

/** Creates the process's execution streams; call close() on shutdown. */
export function createExecutionStreams(deps: ExecutionStreamDeps): ExecutionStreams {
  const log = deps.logger.child({ module: 'execution-stream' });
  const subscribers = new Set<Subscriber>();
  /** Streams holding a slot of `maxSubscribers`: live ones and those still starting. */
  let admitted = 0;
  const reader: Redis = createBlockingRedis(deps.redisUrl);
  const pool: Pool<Redis> = createPool({
    create: async () => createBlockingRedis(deps.redisUrl),
    destroy: async (r) => r.disconnect(),
  }, { max: deps.catchUpConnections ?? 4, min: 0, acquireTimeoutMillis: 10_000 });
  const heads: StreamPositions = {}; // what the live reader has read of each book
  let running = true;
  let started: Promise<void> | undefined;

  async function snapshot(symbol: string, r: Redis): Promise<void> {
    const last = await r.xrevrange(eventStreamKey(symbol), '+', '-', 'COUNT', 1);
    heads[symbol] ??= last[0]?.[0] ?? '0-0';
  }

  async function loop(): Promise<void> {
    while (running) {
      try {
        for (const s of deps.symbols()) if (heads[s] === undefined) await snapshot(s, reader);
        const symbols = Object.keys(heads);
        // On a cluster: one read per book stream, routed to its node (readStreams).
        const reply = (await readStreams(reader, symbols.map(eventStreamKey), symbols.map((s) => heads[s]!), BLOCK_MS, (ks, ids, b) => b === undefined
          ? reader.xread('COUNT', BATCH, 'STREAMS', ...ks, ...ids)
          : reader.xread('COUNT', BATCH, 'BLOCK', b, 'STREAMS', ...ks, ...ids))) as [string, Entry[]][] | null;
        for (const [key, entries] of reply ?? []) {
          const symbol = symbols.find((s) => eventStreamKey(s) === key)!;
          for (const entry of entries) {
            heads[symbol] = entry[0];
            for (const sub of subscribers) sub.offer(symbol, entry);
          }
        }
      } catch (err) {
        if (!running) return;
        log.error({ err }, 'execution stream reader failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  function start(): Promise<void> {
    started ??= (async () => {
      for (const s of deps.symbols()) await snapshot(s, reader);
      void loop();
    })().catch((err: unknown) => {
      started = undefined; // a failed start (Redis down) is retried by the next stream
      throw err;
    });
    return started;
  }

  function fail(call: ServerWritableStream<Buffer, Buffer>, err: ApiError): void {
    call.emit('error', toServiceError(toWireError(err)));
  }

  function drop(sub: Subscriber): void {
    sub.stop();
    subscribers.delete(sub);
  }

  async function catchUp(sub: Subscriber, from: StreamPositions): Promise<void> {
    const conn = await pool.acquire();
    try {
      for (const [symbol, after] of Object.entries(from)) {
        let cursor = after;
        for (;;) {
          const entries = (await conn.xrange(eventStreamKey(symbol), `(${cursor}`, '+', 'COUNT', BATCH)) as Entry[];
          for (const e of entries) sub.send(symbol, e);
          if (entries.length < BATCH || !subscribers.has(sub)) break;
          cursor = entries[entries.length - 1]![0];
        }
      }
    } finally {
      await pool.release(conn);
    }
  }

  async function subscribe(call: ServerWritableStream<Buffer, Buffer>, accountId: string): Promise<void> {
    let req;
    try {
      req = fromBinary(StreamExecutionsRequestSchema, call.request);
    } catch {
      return fail(call, new ApiError('MALFORMED_REQUEST', 'the request is not a valid tierbook.v1.StreamExecutionsRequest'));
    }
    const from = req.cursor === '' ? undefined : decodeCursor(req.cursor);
    if (req.cursor !== '' && !from) {
      return fail(call, new ApiError('INVALID_FIELD', 'cursor: not a cursor from StreamExecutions', { field: 'cursor' }));
    }
    // Admission is one synchronous step: the slot is taken before the first await, so
    // streams opened at once cannot all pass the check while the reader starts. The slot
    // is given back exactly once, whichever way the stream ends (or fails to start).
    if (admitted >= deps.maxSubscribers) {
      return fail(call, new ApiError('TOO_MANY_STREAMS', `this gateway already serves ${deps.maxSubscribers} execution streams; retry later`));
    }
    admitted += 1;
    let sub: Subscriber | undefined;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      admitted -= 1;
      if (sub) drop(sub);
    };
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
    try {
      await start();
    } catch (err) {
      end();
      throw err;
    }
    if (ended) return; // the client left while the reader started
    // Books missing from an older cursor start at the live head.
    sub = new Subscriber(accountId, call, { ...heads, ...(from ?? {}) }, (s) => {
      end();
      fail(s.call, new ApiError('STREAM_TOO_SLOW', 'the stream fell too far behind; resume from the last cursor'));
    });
    subscribers.add(sub);
    sub.announce(deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    if (from) await catchUp(sub, from);
    sub.goLive();
  }

  return {
    handle(call, account) {
      subscribe(call, account.accountId).catch((err: unknown) => {
        log.error({ err }, 'execution stream failed');
        fail(call, new ApiError('BACKEND_UNAVAILABLE', 'the execution stream failed; resume from the last cursor'));
      });
    },
    async close() {
      running = false;
      for (const s of subscribers) {
        s.stop();
        s.call.end();
      }
      subscribers.clear();
      reader.disconnect();
      await pool.drain();
      await pool.clear();
    },
  };
}
