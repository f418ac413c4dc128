import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { eventStreamKey } from '../domain/events.js';
import { readInstrumentSpecs } from './instrument-symbols.js';
import { entriesFromRead, type StreamEntry } from './stream-entry.js';
import { crossSlotPipeline, scanKeys } from '../shared/redis.js';
import { readStreams } from '../shared/stream-reads.js';

export interface StreamSourceOptions {
  group: string;
  consumer: string;
  instrumentsFile: string;
  logger: Logger;
  /** How often discover() also scans the whole keyspace (config.sync.scanIntervalMs). */
  scanIntervalMs: number;
}

const STREAM_PATTERN = '{bk:*}:events';

/**
 * The sync thread's view of the books' event streams as one consumer of the group: which
 * streams exist (instruments file plus a SCAN, so books added at runtime are picked up), its
 * own pending entries after a restart, new entries, and stale entries of dead consumers.
 */
export class StreamSource {
  private known = new Set<string>();
  /** Streams whose own pending entries (from before a restart) are still being re-read. */
  private pendingCursor = new Map<string, string>();

  /**
   * `reader` is dedicated to XREADGROUP (it may block); `control` takes every other command,
   * so acknowledgements and discovery never wait behind a blocked read.
   */
  private lastScan = -Infinity;

  constructor(
    private readonly reader: Redis,
    private readonly control: Redis,
    private readonly opts: StreamSourceOptions,
  ) {}

  get streams(): string[] {
    return [...this.known];
  }

  /** True while entries delivered to this consumer before a restart remain to be re-read. */
  get recovering(): boolean {
    return this.pendingCursor.size > 0;
  }

  /**
   * Finds the streams and makes sure the group exists on each; new ones start recovery. The
   * instruments registry names every live book and is read each time; a SCAN of the whole
   * keyspace (costly: it walks every order key) also finds streams of books no longer
   * listed that may still hold unsynced events, so it runs at start and then rarely.
   */
  async discover(): Promise<string[]> {
    const found = new Set<string>();
    for (const sym of readInstrumentSpecs(this.opts.instrumentsFile).keys()) found.add(eventStreamKey(sym));
    if (Date.now() - this.lastScan >= this.opts.scanIntervalMs) {
      this.lastScan = Date.now();
      // Per master on a cluster: SCAN only walks the node it is sent to.
      await scanKeys(this.control, STREAM_PATTERN, ['TYPE', 'stream'], (keys) => void keys.forEach((k) => found.add(k)));
    }
    const added: string[] = [];
    for (const stream of found) {
      if (this.known.has(stream)) continue;
      try {
        // From id 0: events appended before the group existed are still written to Postgres.
        await this.control.xgroup('CREATE', stream, this.opts.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
      }
      this.known.add(stream);
      this.pendingCursor.set(stream, '0');
      added.push(stream);
    }
    if (added.length) this.opts.logger.info({ streams: added.length, total: this.known.size }, 'reading new event streams');
    return added;
  }

  /** Forgets every stream (after Redis lost its data: groups must be created again). */
  reset(): void {
    this.lastScan = -Infinity;
    this.known.clear();
    this.pendingCursor.clear();
  }

  /**
   * Reads up to `count` entries per stream: first this consumer's own pending entries (left by
   * a crash), then new ones, blocking up to `blockMs` when there is nothing.
   */
  async read(count: number, blockMs: number): Promise<StreamEntry[]> {
    if (this.known.size === 0) return [];
    if (this.pendingCursor.size > 0) {
      const keys = [...this.pendingCursor.keys()];
      const reply = await readStreams(this.reader, keys, keys.map((k) => this.pendingCursor.get(k) as string), undefined,
        (ks, ids) => this.reader.xreadgroup('GROUP', this.opts.group, this.opts.consumer, 'COUNT', count, 'STREAMS', ...ks, ...ids));
      const entries = entriesFromRead(reply);
      const last = new Map<string, string>();
      for (const e of entries) last.set(e.stream, e.id);
      for (const k of keys) {
        const id = last.get(k);
        if (id) this.pendingCursor.set(k, id);
        else this.pendingCursor.delete(k);
      }
      if (entries.length) return entries;
    }
    const keys = this.streams;
    const block = Math.max(1, Math.round(blockMs));
    const reply = await readStreams(this.reader, keys, keys.map(() => '>'), block, (ks, ids, b) => b === undefined
      ? this.reader.xreadgroup('GROUP', this.opts.group, this.opts.consumer, 'COUNT', count, 'STREAMS', ...ks, ...ids)
      : this.reader.xreadgroup('GROUP', this.opts.group, this.opts.consumer, 'COUNT', count, 'BLOCK', b, 'STREAMS', ...ks, ...ids));
    return entriesFromRead(reply);
  }

  /**
   * Takes over entries pending for longer than `minIdleMs` on any consumer (one that died
   * mid-batch on another host) so they are written and acknowledged here.
   */
  async claimStale(minIdleMs: number, count: number): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    for (const stream of this.known) {
      let start = '0-0';
      do {
        const reply = (await this.control.xautoclaim(stream, this.opts.group, this.opts.consumer, minIdleMs, start, 'COUNT', count)) as [string, [string, string[] | null][]];
        start = reply[0];
        for (const [id, fields] of reply[1] ?? []) out.push({ stream, id, fields: fields ?? [] });
      } while (start !== '0-0' && out.length < count);
      if (out.length >= count) break;
    }
    if (out.length) this.opts.logger.warn({ entries: out.length }, 'reclaimed stale entries of another consumer');
    return out;
  }

  /** Acknowledges entries (after their transaction committed); returns those whose XACK failed. */
  async ack(entries: readonly StreamEntry[]): Promise<StreamEntry[]> {
    const byStream = new Map<string, string[]>();
    for (const e of entries) {
      const ids = byStream.get(e.stream) ?? [];
      ids.push(e.id);
      byStream.set(e.stream, ids);
    }
    const pipe = crossSlotPipeline(this.control);
    for (const [stream, ids] of byStream) pipe.xack(stream, this.opts.group, ...ids);
    const results = (await pipe.exec()) ?? [];
    // Per stream: on a cluster a master that is away fails only its own books' XACKs.
    const streams = [...byStream.keys()];
    const failed = new Set(streams.filter((_, i) => !results[i] || results[i]![0]));
    return failed.size ? entries.filter((e) => failed.has(e.stream)) : [];
  }
}
