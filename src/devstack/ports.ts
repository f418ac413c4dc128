import { createServer } from 'node:net';

/** Asks the kernel for a free loopback port (racy in theory, fine for local servers). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * The first of n consecutive free loopback ports (gateway process i listens on base + i).
 * `alsoFreeAt`: offsets whose ports must be free too (a Redis Cluster node's bus port sits
 * 10000 above it). With offsets, every port stays below the kernel's ephemeral range
 * (32768+), so a concurrent test's freePort() cannot be handed one of them meanwhile.
 */
export async function consecutiveFreePorts(n: number, alsoFreeAt: readonly number[] = []): Promise<number> {
  const top = alsoFreeAt.length ? 32_768 - Math.max(...alsoFreeAt) - n : 40_000;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (top - 20_000));
    let ok = true;
    for (const offset of [0, ...alsoFreeAt]) for (let i = 0; i < n && ok; i++) ok = await portIsFree(base + offset + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}
