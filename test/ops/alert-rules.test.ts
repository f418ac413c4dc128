/**
 * The Prometheus files under deploy/prometheus/ checked by Prometheus's own tool: the config
 * and the rules are valid (`promtool check`), and every alert rule fires on the series its
 * unit tests say it must and on no others (`promtool test rules tierbook-alerts.test.yml`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../src/shared/paths.js';
import { run } from '../support/tools.js';
import { requirePrometheusTool } from './support/prometheus.js';

const file = (name: string) => fromRoot('deploy', 'prometheus', name);

test('promtool: the deploy config and the alert rules pass check config and check rules', async () => {
  const promtool = requirePrometheusTool('promtool');
  const config = await run(promtool, ['check', 'config', file('prometheus.yml')]);
  assert.equal(config.code, 0, config.stdout + config.stderr);
  assert.match(config.stdout + config.stderr, /SUCCESS: 1 rule files found/, 'the rules file is found beside the config');
  const rules = await run(promtool, ['check', 'rules', file('tierbook-alerts.yml')]);
  assert.equal(rules.code, 0, rules.stdout + rules.stderr);
});

test('promtool test rules: each alert fires on the series that should fire it and stays quiet on the others', async (t) => {
  const promtool = requirePrometheusTool('promtool');
  const res = await run(promtool, ['test', 'rules', file('tierbook-alerts.test.yml')]);
  for (const line of (res.stdout + res.stderr).trim().split('\n')) t.diagnostic(line);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout, /SUCCESS/);
});

test('every alert rule has a unit test', () => {
  const names = (text: string, re: RegExp) => new Set([...text.matchAll(re)].map((m) => m[1]!));
  const rules = names(readFileSync(file('tierbook-alerts.yml'), 'utf8'), /^\s+- alert: (\w+)/gm);
  const tested = names(readFileSync(file('tierbook-alerts.test.yml'), 'utf8'), /^\s+alertname: (\w+)/gm);
  assert.ok(rules.size >= 16, `${rules.size} rules`);
  assert.deepEqual([...rules].filter((r) => !tested.has(r)), []);
  for (const seeded of ['TierbookRedisMemoryHigh', 'TierbookErrorRatioHigh', 'TierbookOrdersSlow', 'HostCpuHigh', 'HostMemoryHigh']) assert.ok(rules.has(seeded), seeded);
});
