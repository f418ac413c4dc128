import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../src/shared/paths.js';

/** Finds a Go tool installed by scripts/setup.sh (.tools/bin), else on PATH or in GOPATH/bin. */
export function tool(name: 'ghz' | 'grpcurl' | 'grpc-health-probe'): string {
  for (const dir of [fromRoot('.tools', 'bin'), join(process.env.HOME ?? '/root', 'go', 'bin')]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** Runs a command; resolves with its output and exit code (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
