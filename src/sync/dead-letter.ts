import type { Redis } from 'ioredis';
import type { StreamEntry } from './stream-entry.js';

/** The dead-letter stream of a book's event stream: same hash tag, so same cluster slot. */
export function deadLetterKey(stream: string): string {
  return `${stream}:dead`;
}

/** Dead letters kept per book; older ones are trimmed (they are also in the log). */
const DEAD_LETTER_MAXLEN = 100_000;

/**
 * Moves a poison entry to its dead-letter stream with the reason, then acknowledges it, in
 * one MULTI so the entry is never both lost and acknowledged. Its original id and fields are
 * kept so an operator can fix and re-append it.
 */
export async function deadLetter(redis: Redis, group: string, entry: StreamEntry, reason: string, attempts: number): Promise<void> {
  const res = await redis
    .multi()
    .xadd(deadLetterKey(entry.stream), 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*',
      'stream', entry.stream, 'id', entry.id, 'reason', reason, 'attempts', String(attempts), ...entry.fields)
    .xack(entry.stream, group, entry.id)
    .exec();
  for (const [err] of res ?? []) if (err) throw err;
}
