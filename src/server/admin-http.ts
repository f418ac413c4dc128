import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

/** Readiness with its reasons, as /readyz shows it. */
export interface Readiness {
  ready: boolean;
  [detail: string]: unknown;
}

export interface AdminDeps {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  logger: Logger;
  /** The Prometheus text of the whole cluster. */
  metrics(): Promise<string>;
  metricsContentType: string;
  /** Whether the gateways and the sync are up and serving. */
  readiness(): Readiness;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The admin HTTP port, served by the cluster primary only (one scrape target per host):
 * `/metrics` (every process and thread, aggregated), `/healthz` (the primary's event loop
 * answers: restart me if not) and `/readyz` (every gateway process is serving: send me
 * traffic; 503 with the reasons while not). Bind it to loopback or a private interface.
 */
export async function startAdminHttp(deps: AdminDeps): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      deps.metrics().then(
        (body) => res.writeHead(200, { 'content-type': deps.metricsContentType }).end(body),
        (err: unknown) => {
          deps.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = deps.readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics, /healthz or /readyz\n');
    }
  });
  // Scrapes are short; do not let an idle keep-alive socket hold a shutdown.
  server.keepAliveTimeout = 5_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : deps.port);
    });
  });
  deps.logger.info({ port }, 'admin http listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
