import { readFileSync } from 'node:fs';
import { fromRoot } from './paths.js';

/**
 * The Lua sources of the order path (src/workers/orders/lua/), read from the tree (dist/ has
 * no .lua). The book operations become one Functions library (book-library.ts); the small
 * client order id scripts run as they are.
 */
const LUA_DIR = ['src', 'workers', 'orders', 'lua'];

export function luaSource(name: string): string {
  return readFileSync(fromRoot(...LUA_DIR, `${name}.lua`), 'utf8');
}
