/**
 * A grpc-go client beside the bench's grpc-js load: ghz sending GetOrderBook at a low steady
 * rate through nginx for the whole fault, stopped with SIGINT (ghz then writes its report).
 * grpc-go is the strictest reader of nginx's own answers (a content-type-less 204 was
 * Unknown to it), so its status counts show what a Go service sees during each fault.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../src/shared/paths.js';
import { tool } from '../test/support/tools.js';

export interface GhzProbe {
  /** Stops ghz; resolves with its calls by status name (Unavailable, OK, ...). */
  stop(): Promise<Record<string, number>>;
}

export function startGhzProbe(target: string, apiKey: string, rps: number, output: string): GhzProbe {
  const args = [
    '--insecure', '--proto', fromRoot('proto', 'tierbook', 'v1', 'analytics_service.proto'), '-i', fromRoot('proto'),
    '--call', 'tierbook.v1.AnalyticsService/GetOrderBook', '-d', '{"symbol":"MSFT","depth":5}',
    '-m', JSON.stringify({ authorization: `Bearer ${apiKey}` }),
    // Open loop at a fixed rate; a run far longer than any fault, ended by SIGINT.
    '--rps', String(rps), '--async', '--duration', '600s', '--timeout', '3s',
    '--connections', '2', '-c', '4', '-O', 'json', '-o', output, target,
  ];
  const child = spawn(tool('ghz'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4096)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      if (code !== 0) throw new Error(`ghz exited ${code}: ${stderr.trim()}`);
      const report = JSON.parse(readFileSync(output, 'utf8')) as { statusCodeDistribution?: Record<string, number> };
      return report.statusCodeDistribution ?? {};
    },
  };
}
