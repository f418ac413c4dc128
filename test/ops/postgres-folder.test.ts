/**
 * A stack folder the server user cannot enter (a `mktemp -d` folder, mode 0700, as
 * TIERBOOK_STACK_DIR under root) is refused at once with what to do, instead of initdb
 * failing with nothing but its exit code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, unreachableAncestor } from '../../src/devstack/postgres.js';
import { freePort } from '../../src/devstack/ports.js';

const OTHER_UID = 4242; // not the owner of the temporary folders

describe('the Postgres folder', () => {
  it('finds the first folder above the data that another user cannot enter', () => {
    const top = mkdtempSync(join(tmpdir(), 'tierbook-pgdir-')); // mode 0700
    try {
      assert.equal(unreachableAncestor(join(top, 'postgres'), OTHER_UID), top);
      assert.equal(unreachableAncestor(join(top, 'postgres'), process.getuid!()), undefined, 'its owner may enter it');
      chmodSync(top, 0o755);
      assert.equal(unreachableAncestor(join(top, 'postgres'), OTHER_UID), undefined);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });

  it('refuses to start in it, saying which folder and what to do', { skip: process.getuid?.() !== 0 && 'only as root does Postgres run as another user' }, async () => {
    const top = mkdtempSync(join(tmpdir(), 'tierbook-pgdir-'));
    try {
      await assert.rejects(startPostgres({ dir: join(top, 'postgres'), port: await freePort(), unsafeFast: true }),
        new RegExp(`cannot enter ${top} \\(mode 0700\\): allow it \\(chmod o\\+x ${top}\\) or put the data elsewhere \\(TIERBOOK_STACK_DIR\\)`));
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
});
