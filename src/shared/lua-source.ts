import { readFileSync } from 'node:fs';
import { fromRoot } from './paths.js';

/**
 * The Lua sources of the book scripts (src/workers/orders/lua/), read from the tree (dist/ has
 * no .lua). The order path runs place/cancel/amend; the sync runs the retention sweep.
 */
const LUA_DIR = ['src', 'workers', 'orders', 'lua'];

export type BookScriptName = 'place' | 'cancel' | 'amend' | 'sweep';

export function luaSource(name: string): string {
  return readFileSync(fromRoot(...LUA_DIR, `${name}.lua`), 'utf8');
}

/** The source of a book script: the shared prelude followed by the operation. */
export function bookScriptSource(name: BookScriptName): string {
  return `${luaSource('common')}\n${luaSource(name)}`;
}
