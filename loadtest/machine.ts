import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** One line describing where the figures were measured, for every report and docs/loadtest.md. */
export function describeMachine(ghz: string | null): string {
  const c = cpus();
  const model = c[0]?.model.trim() ?? 'unknown CPU';
  const gb = (totalmem() / 2 ** 30).toFixed(0);
  // A `go install`ed ghz reports its version as "dev"; the pin is in scripts/loadtest.sh.
  const v = ghz ? spawnSync(ghz, ['--version'], { encoding: 'utf8' }) : null;
  const ghzVersion = v ? `${(v.stdout + v.stderr).trim() || 'unknown'} build of v0.120.0` : 'not installed';
  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  return `${c.length} x ${model}, ${gb} GiB RAM, Linux ${release()}, Node ${process.version}, ghz ${ghzVersion} on the same machine, load average ${load} at start`;
}

/** "30s", "2m", "1m30s" or a bare number of seconds, to whole seconds. */
export function parseDurationSec(s: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s?)?$/.exec(s.trim());
  const sec = m ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : NaN;
  if (!Number.isInteger(sec) || sec < 1 || sec > 3600) throw new Error(`--duration must be like 30s or 2m (1 s to 1 h), got "${s}"`);
  return sec;
}
