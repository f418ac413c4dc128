import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for local servers are picked from [PICK_FROM, the kernel's ephemeral range): a port
 * the kernel hands out for listen(0) or an outgoing connection could be taken by anyone's
 * next connection between the check and the server's bind ("Address already in use"), and
 * test files start servers side by side. Below the ephemeral range only another picker can
 * take it, and pickers choose at random among thousands.
 */
const PICK_FROM = 20_000;

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > PICK_FROM + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports this process has handed out: it never hands one out twice. */
const handedOut = new Set<number>();

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free loopback port below the ephemeral range (see PICK_FROM). */
export async function freePort(): Promise<number> {
  return consecutiveFreePorts(1);
}

/**
 * The first of n consecutive free loopback ports (gateway process i listens on base + i).
 * `alsoFreeAt`: offsets whose ports must be free too (a Redis Cluster node's bus port sits
 * 10000 above it). Every port stays below the kernel's ephemeral range.
 */
export async function consecutiveFreePorts(n: number, alsoFreeAt: readonly number[] = []): Promise<number> {
  const top = ephemeralLow() - Math.max(0, ...alsoFreeAt) - n;
  if (top <= PICK_FROM) throw new Error(`no room for ${n} ports with offsets ${alsoFreeAt.join(', ')} below the ephemeral range`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = PICK_FROM + Math.floor(Math.random() * (top - PICK_FROM));
    const ports = [0, ...alsoFreeAt].flatMap((offset) => Array.from({ length: n }, (_, i) => base + offset + i));
    if (ports.some((p) => handedOut.has(p))) continue;
    let ok = true;
    for (const p of ports) if (!(ok = await portIsFree(p))) break;
    if (!ok) continue;
    for (const p of ports) handedOut.add(p);
    return base;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}
