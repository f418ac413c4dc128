/**
 * A redis-server run under valgrind's callgrind, for counting the instructions Redis spends
 * inside script calls. Wall-clock µs from INFO commandstats swing by ±30 % on a shared box;
 * instruction counts do not, so a change to a script can be measured while other work runs
 * (about 50x slower than a plain Redis; use a few hundred calls, not thousands).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface CallgrindRedis {
  url: string;
  /**
   * Instructions (Ir) inside script calls while `run` runs: `evalGenericCommand` (every
   * EVAL/EVALSHA) plus `fcallCommand` / `fcallroCommand` (every FCALL, FCALL_RO).
   */
  scriptInstructions(run: () => Promise<unknown>): Promise<number>;
  stop(): Promise<void>;
}

export async function startCallgrindRedis(dir: string, port: number): Promise<CallgrindRedis> {
  const out = join(dir, 'callgrind.out');
  const proc: ChildProcess = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${out}.%p`,
    'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
  ], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  // valgrind takes seconds to start Redis: ping until it answers (ioredis retries the connection).
  const probe = new Redis(url, { retryStrategy: () => 200, maxRetriesPerRequest: null });
  probe.on('error', () => {});
  try {
    await probe.ping();
  } catch (err) {
    proc.kill('SIGTERM');
    throw err;
  } finally {
    probe.disconnect();
  }
  const pid = String(proc.pid);
  const control = (flag: string) => execFileSync('callgrind_control', [flag, pid], { stdio: 'pipe' });
  /** The newest dump file: callgrind numbers them out.<pid>.<n>. */
  const newestDump = () => readdirSync(dir).filter((f) => f.startsWith(`callgrind.out.${pid}.`))
    .map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  return {
    url,
    async scriptInstructions(run) {
      control('--zero');
      await run();
      control('--dump');
      const report = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', newestDump()], { maxBuffer: 64 << 20 }).toString();
      const lines = report.split('\n').filter((l) => / \S*:(evalGenericCommand|fcallCommand|fcallroCommand) /.test(l));
      if (lines.length === 0) return NaN;
      return lines.reduce((sum, l) => sum + Number(/^\s*([\d,]+)/.exec(l)?.[1]?.replace(/,/g, '') ?? NaN), 0);
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    },
  };
}
