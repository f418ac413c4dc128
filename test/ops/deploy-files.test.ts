/**
 * The production deploy files are valid as written: nginx accepts production.conf (with
 * throwaway certificates in place of the real ones), and the PromQL name extraction the
 * dashboard test relies on reads what it should.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../src/shared/paths.js';
import { metricNames } from './support/promql-names.js';

test('deploy/nginx/production.conf passes nginx -t', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-prodconf-'));
  try {
    for (const name of ['server', 'internal-ca']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tierbook.test',
        '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' });
    }
    const conf = readFileSync(fromRoot('deploy', 'nginx', 'production.conf'), 'utf8')
      .replaceAll('/etc/tierbook/tls/', `${dir}/`)
      .replaceAll('/run/tierbook-nginx.pid', join(dir, 'nginx.pid'))
      .replaceAll('/var/log/nginx/', `${dir}/`)
      // The www-data user may not exist where tests run (nginx -t binds no port).
      .replace(/^user .*;$/m, '');
    writeFileSync(join(dir, 'nginx.conf'), conf);
    execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('metric names are read out of PromQL expressions', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.99, sum by (le, tier) (rate(tierbook_rpc_duration_seconds_bucket{tier=~"A|B",le="0.005"}[1m]))) / 1e6'),
    ['tierbook_rpc_duration_seconds_bucket'],
  );
  assert.deepEqual(metricNames('sum(a_total) / on (x) group_left b > bool 2'), ['a_total', 'b']);
});
