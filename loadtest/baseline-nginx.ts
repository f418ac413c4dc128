import { join } from 'node:path';
import { startNginx } from '../src/devstack/nginx.js';
import { freePort } from '../src/devstack/ports.js';
import type { OwnedProcess } from '../src/devstack/process.js';
import { startBaseline, type RunningBaseline } from './baseline-process.js';

/**
 * The baseline behind nginx, like for like with the stack: as many echo processes as the stack
 * has gateways, behind an nginx started from the same deploy/nginx template (a second
 * instance on its own port, so the stack's nginx is never touched). The ratio stack/this then
 * isolates what tierbook's own work costs, with the proxy hop on both sides.
 */
export interface BaselineBehindNginx {
  host: string;
  stop(): Promise<void>;
}

export async function startBaselineBehindNginx(root: string, dir: string, processes: number, maxMessageBytes: number): Promise<BaselineBehindNginx> {
  const echo: RunningBaseline = await startBaseline(root, ['--processes', String(processes)]);
  let nginx: OwnedProcess;
  const port = await freePort();
  try {
    nginx = await startNginx({ dir: join(dir, 'baseline-nginx'), port, upstreamPorts: echo.ports, maxMessageBytes });
  } catch (e) {
    await echo.stop();
    throw e;
  }
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      await nginx.stop();
      await echo.stop();
    },
  };
}
