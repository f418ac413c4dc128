import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { luaSource } from './lua-source.js';
import { masters } from './redis.js';

/**
 * The book scripts as one Redis Functions library (FUNCTION LOAD, FCALL). The sources stay
 * the readable .lua files of src/workers/orders/lua/: the library is common.lua (the helpers)
 * followed by one registered function per operation, which runs that operation's file
 * between `begin(keys, args)` (the per-call state) and `finish()` (the writes kept for the
 * end). Redis creates the ~50 helper closures once per load instead of on every call, as
 * EVALSHA of prelude + script did.
 *
 * Versioned: the library and its functions are named after a hash of the sources
 * (`tierbook_<h>`, `tierbook_place_<h>`, ...; function names are global in Redis, so they
 * carry it too). During a rolling restart old and new code each call their own library side
 * by side. Old libraries stay loaded (persisted in RDB/AOF and replicated like data, a few
 * kB each) until `tierbook functions prune` deletes every version but this build's on every
 * master (pruneBookLibraries).
 */
export type BookOperation = 'place' | 'cancel' | 'amend' | 'sweep';
const OPERATIONS: readonly BookOperation[] = ['place', 'cancel', 'amend', 'sweep'];

export interface BookLibrary {
  /** `tierbook_<h>`. */
  name: string;
  /** The FUNCTION LOAD payload. */
  code: string;
  /** The function an operation is called by. */
  functions: Record<BookOperation, string>;
}

let built: BookLibrary | undefined;

/** The library built from the .lua sources (read once per process). */
export function bookLibrary(): BookLibrary {
  if (built) return built;
  const common = luaSource('common');
  const bodies = OPERATIONS.map((op) => luaSource(op));
  const hash = createHash('sha1').update([common, ...bodies].join('\0')).digest('hex').slice(0, 12);
  const functions = Object.fromEntries(OPERATIONS.map((op) => [op, `tierbook_${op}_${hash}`])) as Record<BookOperation, string>;
  // Each body is a function of its own, so that finish() (the writes a call keeps for its
  // end) runs after any of its returns.
  const registered = OPERATIONS.map((op, i) =>
    `local function ${op}Body()\n${bodies[i]}\nend\n`
    + `register_function('${functions[op]}', function(keys, args)\nbegin(keys, args)\nreturn finish(${op}Body())\nend)\n`);
  // Taken before common.lua, which shadows `redis` with its per-call local.
  const head = `#!lua name=tierbook_${hash}\nlocal register_function = redis.register_function\n`;
  built = { name: `tierbook_${hash}`, code: `${head}${common}\n${registered.join('')}`, functions };
  return built;
}

/** One call of a book function: KEYS[1] = the instrument key, then ARGV. */
export type BookCall = (op: BookOperation, instrumentKey: string, ...args: string[]) => Promise<unknown>;

/** FCALL's answer from a node that does not have the function (restarted empty, flushed, new). */
const MISSING = /Function not found/;

const callers = new WeakMap<Redis | Cluster, BookCall>();

/**
 * The book functions on a connection (one Redis, or every master of a cluster). The library
 * is loaded at the connection's first call, on every master it can reach (FUNCTION LOAD is
 * node-local); loading a version that is there already is a no-op. A node that answers
 * "Function not found" later (restarted without persistence, FUNCTION FLUSH, a new master,
 * one that was away at the first load) gets the library and the call is sent once more, as
 * ioredis does for EVALSHA on NOSCRIPT: a refused call ran nothing. ioredis routes FCALL by
 * its keys like EVALSHA (numkeys, then the keys), so on a cluster each call goes straight to
 * its book's master (test/matching/book-functions.test.ts checks both).
 */
export function bookCaller(redis: Redis | Cluster): BookCall {
  const known = callers.get(redis);
  if (known) return known;
  const lib = bookLibrary();
  let loaded = false;
  let loading: Promise<void> | undefined;
  // Concurrent first calls (or refusals after a flush) share one load.
  const load = (): Promise<void> => (loading ??= loadOnMasters(redis as Redis, lib).then(
    () => { loaded = true; loading = undefined; },
    (err: unknown) => { loading = undefined; throw err; },
  ));
  const call: BookCall = (op, key, ...args) => {
    const fcall = () => redis.fcall(lib.functions[op], 1, key, ...args);
    const reloadOnce = (err: unknown) => {
      if (!(err instanceof Error && MISSING.test(err.message))) throw err;
      return load().then(fcall);
    };
    // Once loaded, FCALL is sent in the caller's turn (write-per-turn.ts holds it with the rest).
    if (loaded) return fcall().catch(reloadOnce);
    return load().then(fcall).catch(reloadOnce);
  };
  callers.set(redis, call);
  return call;
}

/**
 * FUNCTION LOAD on every master; "already exists" means this version is there. A master that
 * cannot be reached (lost, restarting) or refuses must not stop the books of the others: its failure
 * counts only if no master took the library (Redis down, or a library that does not compile);
 * once back it answers "Function not found" and is loaded then.
 */
async function loadOnMasters(redis: Redis, lib: BookLibrary): Promise<void> {
  const results = await Promise.allSettled((await masters(redis)).map((node) => node.call('FUNCTION', 'LOAD', lib.code).catch((err: Error) => {
    if (!/already exists/.test(err.message)) throw err;
  })));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length === results.length && failed[0]) throw failed[0].reason;
}

/** A library name this code made: `tierbook_` and a 12-hex-digit source hash. */
const VERSIONED = /^tierbook_[0-9a-f]{12}$/;

/** The name of one FUNCTION LIST entry (a flat [key, value, ...] array, or a map in RESP3). */
function libraryName(entry: unknown): string {
  if (entry instanceof Map) return String(entry.get('library_name'));
  if (!Array.isArray(entry)) return String((entry as Record<string, unknown>).library_name);
  const flat = entry as unknown[];
  return String(flat[flat.indexOf('library_name') + 1]);
}

/** The tierbook libraries one master holds, sorted. */
export async function bookLibrariesOn(node: Redis): Promise<string[]> {
  const list = (await node.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'tierbook_*')) as unknown[];
  return list.map(libraryName).filter((name) => VERSIONED.test(name)).sort();
}

export interface PrunedMaster {
  /** host:port of the master. */
  node: string;
  kept: string[];
  deleted: string[];
}

/**
 * Deletes every version of the book library but this build's, on every master. Safe at any
 * time, also mid-rollout: a process still running an old version that finds its library gone
 * answers "Function not found" by loading it again and sending the call once more (bookCaller),
 * so the worst a too-early prune costs is one reload per old process.
 */
export async function pruneBookLibraries(redis: Redis | Cluster): Promise<PrunedMaster[]> {
  const current = bookLibrary().name;
  return Promise.all((await masters(redis as Redis)).map(async (node) => {
    const found = await bookLibrariesOn(node);
    const deleted = found.filter((name) => name !== current);
    for (const name of deleted) {
      await node.call('FUNCTION', 'DELETE', name).catch((err: Error) => {
        // Deleted meanwhile by another prune: the outcome asked for.
        if (!/Library not found/i.test(err.message)) throw err;
      });
    }
    return { node: `${node.options.host}:${node.options.port}`, kept: found.filter((name) => name === current), deleted };
  }));
}
