import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { buildEchoServer, listen } from './echo-server.js';

/**
 * Starts the baseline echo like the stack starts gateways: `--processes N` forks N processes
 * on consecutive ports from `--port`, or each on a free port when `--port` is 0. Prints one JSON line,
 * `{"host":...,"ports":[...]}`, once every process listens, so scripts can read where it is.
 * SIGINT/SIGTERM stop it.
 */
const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    processes: { type: 'string', default: '1' },
  },
});
const host = values.host!;
const basePort = Number(values.port);
const processes = Number(values.processes);
if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65535) throw new Error(`--port must be 0..65535, got "${values.port}"`);
if (!Number.isInteger(processes) || processes < 1 || processes > 64) throw new Error(`--processes must be 1..64, got "${values.processes}"`);

async function serveOne(port: number): Promise<number> {
  const server = buildEchoServer();
  const bound = await listen(server, host, port);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return bound;
}

if (processes === 1) {
  const port = await serveOne(basePort);
  console.log(JSON.stringify({ host, ports: [port] }));
} else if (cluster.isPrimary) {
  const ports: number[] = [];
  for (let i = 0; i < processes; i++) {
    const worker = cluster.fork({ BASELINE_PORT: String(basePort === 0 ? 0 : basePort + i) });
    worker.on('message', (m: { port?: number }) => {
      if (typeof m.port !== 'number') return;
      ports.push(m.port);
      if (ports.length === processes) console.log(JSON.stringify({ host, ports: ports.sort((a, b) => a - b) }));
    });
  }
  // The primary only forwards the stop; each worker drains its own calls.
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  const port = await serveOne(Number(process.env.BASELINE_PORT));
  process.send?.({ port });
}
