import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TierName } from '../domain/tiers.js';
import type { Principal } from '../shared/accounts-store.js';
import type { Config } from '../shared/config.js';
import { checkEndpoint, type GatewayRole } from './gateway-role.js';
import { PoolThrottle } from './pool-throttle.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * What the gateway checks between authentication and the tier pool. The pool's own queue
 * bound (TIER_QUEUE_FULL) and the deadline checks live in tier-pools.ts, unary-call.ts and
 * the worker; this is the part that needs the account: its pool's optional per-process cap,
 * its cluster-wide rate limit and its tier's default deadline.
 */
export interface Admission {
  /**
   * Throws PERMISSION_DENIED when this process does not serve the account's tier, and
   * RESOURCE_EXHAUSTED / RATE_LIMITED when the account is over its tier's limit.
   */
  admit(principal: Principal, method: string): Promise<void>;
  /** The deadline, in ms from now, for a call of this tier whose client set none. */
  tierDeadlineMs(tier: TierName): number;
}

/**
 * Builds the admission checks from config. Pass `admit` and `tierDeadlineMs` into the
 * server's UnaryDeps (gateway-process.ts).
 */
export function createAdmission(deps: { config: Config; redis: Redis | Cluster; logger: Logger; role?: GatewayRole }): Admission {
  const role = deps.role ?? 'general';
  const limiter = new RateLimiter(deps.redis, deps.config.tiers, deps.logger.child({ module: 'rate-limit' }));
  const throttle = new PoolThrottle(deps.config.poolMaxRps);
  return {
    // The endpoint and the local pool cap first: refusing there costs no Redis call.
    admit: async (principal) => {
      checkEndpoint(role, principal.tier);
      throttle.take(principal.tier);
      await limiter.take(principal.accountId, principal.tier);
    },
    tierDeadlineMs: (tier) => deps.config.tiers[tier].deadlineMs,
  };
}
