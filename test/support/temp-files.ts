/**
 * Small files tests hand to the code under test (instrument lists, migration folders): each
 * in a fresh temporary folder that is removed when the test process exits, so a test run
 * leaves nothing behind in /tmp (one run made some 70 of them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder `tierbook-<prefix>-XXXXXX`, gone when the process exits. */
export function tempFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tierbook-${prefix}-`));
  made.push(dir);
  return dir;
}

/** `value` as JSON in `name` in a fresh folder; returns the file's path. */
export function tempJsonFile(prefix: string, name: string, value: unknown): string {
  const file = join(tempFolder(prefix), name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}
