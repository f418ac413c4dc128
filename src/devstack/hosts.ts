/**
 * Several gateway "hosts" on one machine: each a whole cluster primary (its gateway
 * processes, its admin port and its own sync consumer) bound to an address of its own in
 * 127.0.0.0/8, which Linux routes entirely to the loopback device, so nothing leaves the
 * machine. Every host uses the same ports (as real hosts would); only the bind address and
 * the sync consumer name differ, and one nginx lists each port on each address.
 */

/** Host i (0-based) binds 127.0.0.(2 + i): 127.0.0.1 stays the data stores' and nginx's. */
export function hostAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 252) throw new Error(`host index must be 0..252, got ${index}`);
  return `127.0.0.${2 + index}`;
}

/** A stable consumer name per host, so a restarted host re-reads its own pending entries. */
export function hostConsumer(index: number, prefix = 'host'): string {
  return `${prefix}-${index}`;
}

/**
 * The environment that makes a copy of the single-host configuration host i's: gateway and
 * admin ports bound to the host's address, and its own consumer in the shared sync group.
 * Everything else (Redis URL, Postgres URL, ports, group) is the same on every host.
 */
export function hostEnv(index: number, consumerPrefix?: string): Record<string, string> {
  const address = hostAddress(index);
  return {
    TIERBOOK_GATEWAY_HOST: address,
    TIERBOOK_ADMIN_HOST: address,
    TIERBOOK_SYNC_CONSUMER: hostConsumer(index, consumerPrefix),
  };
}
