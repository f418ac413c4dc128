import { ApiError } from '../domain/errors.js';
import { poolOf, type PoolName, type TierName } from '../domain/tiers.js';
import type { GatewayRole } from '../shared/gateway-layout.js';

export type { GatewayRole } from '../shared/gateway-layout.js';

/*
 * What a gateway process of each role runs and admits (which process has which role:
 * src/shared/gateway-layout.ts). Premium-only processes sit behind their own nginx port, so
 * that a flood of shared-tier calls lands on other processes and cannot hold the event loops
 * premium calls run on (on a busy host the general processes also run at a lower OS
 * priority). Tier isolation at the pools (DESIGN invariant 6) covers the worker threads;
 * this covers the front door.
 */

/** The Piscina pools a process of this role needs: premium processes start no shared threads. */
export function poolsOf(role: GatewayRole): PoolName[] {
  return role === 'premium' ? ['premium'] : ['premium', 'shared'];
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
