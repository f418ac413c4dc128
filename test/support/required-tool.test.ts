import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needs } from './required-tool.js';

test('a missing tool skips locally, and fails the run under CI=true', () => {
  assert.equal(needs('ghz', true, 'x', { CI: 'true' }), false);
  assert.match(String(needs('ghz', false, 'npm run loadtest installs it', {})), /ghz is not installed \(npm run loadtest installs it\)/);
  assert.throws(() => needs('go', false, 'Go 1.21+', { CI: 'true' }), /go is not installed.*CI=true/);
});
