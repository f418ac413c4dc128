import { ApiError } from '../domain/errors.js';
import { poolOf, type PoolName, type TierName } from '../domain/tiers.js';
import type { Config } from '../shared/config.js';

/**
 * What a gateway process serves. "general" processes serve every tier; "premium" ones serve
 * only ELITE and BLACK, behind their own nginx port, so that a flood of shared-tier calls
 * lands on other processes and cannot hold the event loops premium calls run on (on a busy
 * host the general processes also run at a lower OS priority). Tier isolation at the pools
 * (DESIGN invariant 6) covers the worker threads; this covers the front door.
 */
export type GatewayRole = 'general' | 'premium';

/** Process i is premium when it is one of the first TIERBOOK_PREMIUM_GATEWAY_PROCESSES. */
export function roleOf(config: Config, index: number): GatewayRole {
  return index < config.gateway.premiumProcesses ? 'premium' : 'general';
}

/** The Piscina pools a process of this role needs: premium processes start no shared threads. */
export function poolsOf(role: GatewayRole): PoolName[] {
  return role === 'premium' ? ['premium'] : ['premium', 'shared'];
}

/** Gateway ports of each role, for nginx's two upstreams. */
export function portsByRole(config: Config): Record<GatewayRole, number[]> {
  const all = Array.from({ length: config.gateway.processes }, (_, i) => i);
  const port = (i: number) => config.gateway.basePort + i;
  return {
    premium: all.filter((i) => roleOf(config, i) === 'premium').map(port),
    general: all.filter((i) => roleOf(config, i) === 'general').map(port),
  };
}

/**
 * Refuses an account this process does not serve: a LITE or PRO key on the premium endpoint
 * gets PERMISSION_DENIED with a message that names the right door, never a slow failure.
 */
export function checkEndpoint(role: GatewayRole, tier: TierName): void {
  if (role === 'premium' && poolOf(tier) !== 'premium') {
    throw new ApiError('PREMIUM_ENDPOINT_ONLY', `this endpoint serves ELITE and BLACK accounts; a ${tier} account uses the main endpoint`, {
      tier,
    });
  }
}
