import type { Config } from './config.js';

/**
 * Which gateway process serves what, and on which port: derived from config alone, so the
 * cluster (src/server/main.ts) and whoever puts nginx in front of it (src/devstack) agree.
 *
 * "general" processes serve every tier; "premium" ones serve only ELITE and BLACK, behind
 * their own nginx port (src/server/gateway-role.ts enforces it).
 */
export type GatewayRole = 'general' | 'premium';

/** Process i is premium when it is one of the first TIERBOOK_PREMIUM_GATEWAY_PROCESSES. */
export function roleOf(config: Config, index: number): GatewayRole {
  return index < config.gateway.premiumProcesses ? 'premium' : 'general';
}

/** Gateway ports of each role (process i listens on basePort + i), for nginx's two upstreams. */
export function portsByRole(config: Config): Record<GatewayRole, number[]> {
  const all = Array.from({ length: config.gateway.processes }, (_, i) => i);
  const port = (i: number) => config.gateway.basePort + i;
  return {
    premium: all.filter((i) => roleOf(config, i) === 'premium').map(port),
    general: all.filter((i) => roleOf(config, i) === 'general').map(port),
  };
}
