import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

/**
 * Starts the baseline echo (dist/loadtest/baseline/main.js) as a child process, the way a
 * person would, and reads the port it prints. Stopped by PID when the run ends.
 */
export interface RunningBaseline {
  host: string;
  ports: number[];
  stop(): Promise<void>;
}

export function startBaseline(root: string, args: string[] = []): Promise<RunningBaseline> {
  const child: ChildProcess = spawn(process.execPath, [join(root, 'dist', 'loadtest', 'baseline', 'main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('baseline echo did not print its port within 10 s'));
    }, 10_000);
    child.once('exit', (code) => reject(new Error(`baseline echo exited early (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const { host, ports } = JSON.parse(line) as { host: string; ports: number[] };
      resolve({
        host,
        ports,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      });
    });
  });
}
