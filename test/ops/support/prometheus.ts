/**
 * Debian's Prometheus (and promtool) for tests: deploy/prometheus/prometheus.yml, with only
 * what a test must change (the tierbook job's target, shorter intervals, the rules' path),
 * run on a free loopback port with its data in a temporary folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../src/devstack/ports.js';
import { fromRoot } from '../../../src/shared/paths.js';

/** Where scripts/setup.sh puts the tools (Debian's `prometheus` package). */
export function requirePrometheusTool(name: 'prometheus' | 'promtool'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${name} is not installed: run scripts/setup.sh (it installs Debian's "prometheus" package), or apt-get install prometheus`);
  return found;
}

/** One instant-query result: the series' labels and its value. */
export interface PromSeries {
  labels: Record<string, string>;
  value: number;
}

export interface TestPrometheus {
  url: string;
  /** Instant query through the HTTP API (/api/v1/query); rejects on a PromQL error. */
  query(expr: string): Promise<PromSeries[]>;
  /** Resolves once the tierbook target has been scraped successfully `scrapes` times. */
  waitForScrapes(scrapes: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const TEST_SCRAPE_INTERVAL_S = 2;

/**
 * The deploy config aimed at one test target: the tierbook job keeps its path, labels and
 * relabelling, but scrapes `target` every 2 s; the exporter jobs (other hosts) are dropped.
 */
export function testConfig(deployYaml: string, target: string, rulesFile: string): string {
  const lines = deployYaml.split('\n');
  const otherJob = lines.findIndex((l) => /^ {2}- job_name: /.test(l) && !l.includes('tierbook'));
  let seenTarget = false;
  const out = lines
    .slice(0, otherJob < 0 ? lines.length : otherJob)
    .flatMap((l) => {
      if (/^\s+- [\d.]+:9464\s*$/.test(l)) {
        if (seenTarget) return [];
        seenTarget = true;
        return [l.replace(/[\d.]+:9464/, target)];
      }
      return [l];
    })
    .join('\n')
    .replace(/scrape_interval: \S+/, `scrape_interval: ${TEST_SCRAPE_INTERVAL_S}s`)
    .replace(/evaluation_interval: \S+/, `evaluation_interval: ${TEST_SCRAPE_INTERVAL_S}s`)
    .replace(/scrape_timeout: \S+/, `scrape_timeout: ${TEST_SCRAPE_INTERVAL_S}s`)
    .replace(/^(\s+- )tierbook-alerts\.yml$/m, `$1${rulesFile}`);
  // A test scrapes only this machine: never an address of the production example.
  const foreign = /\b(?!127\.)\d+\.\d+\.\d+\.\d+:\d+/.exec(out);
  if (!seenTarget || foreign) throw new Error(`test Prometheus config still names ${foreign?.[0] ?? 'no target'}`);
  return out;
}

export async function startTestPrometheus(target: string): Promise<TestPrometheus> {
  const bin = requirePrometheusTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'tierbook-prometheus-'));
  const port = await freePort();
  const config = testConfig(readFileSync(fromRoot('deploy', 'prometheus', 'prometheus.yml'), 'utf8'), target, fromRoot('deploy', 'prometheus', 'tierbook-alerts.yml'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const log = openSync(join(dir, 'prometheus.log'), 'a');
  const child: ChildProcess = spawn(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', log, log] });
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const logTail = () => readFileSync(join(dir, 'prometheus.log'), 'utf8').slice(-2000);
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > until) {
      const tail = logTail();
      await stop();
      throw new Error(`prometheus did not become ready:\n${tail}`);
    }
    await sleep(100);
  }

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    async query(expr) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async waitForScrapes(scrapes, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      let last = '';
      while (seen < scrapes) {
        type Target = { labels: Record<string, string>; health: string; lastScrape: string; lastError: string };
        const t = (await api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets.find((x) => x.labels.job === 'tierbook');
        if (t?.health === 'up' && t.lastScrape !== last) {
          last = t.lastScrape;
          seen++;
        }
        if (Date.now() > deadline) throw new Error(`tierbook target not scraped ${scrapes} times: ${t?.health} ${t?.lastError}\n${logTail()}`);
        await sleep(200);
      }
    },
    stop,
  };
}
