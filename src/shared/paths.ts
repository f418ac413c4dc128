import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project root (the folder with package.json). Compiled code runs from dist/, sources such
 * as Lua scripts and SQL migrations stay where they are, so paths are taken from the root.
 */
export const projectRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('tierbook: cannot find the project root (package.json)');
    dir = up;
  }
  return dir;
})();

/** A path below the project root. */
export function fromRoot(...parts: string[]): string {
  return join(projectRoot, ...parts);
}
