/** Service tiers. LITE and PRO share one worker pool; ELITE and BLACK share the premium one. */
export const TIERS = ['LITE', 'PRO', 'ELITE', 'BLACK'] as const;
export type TierName = (typeof TIERS)[number];

export type PoolName = 'premium' | 'shared';

export function poolOf(tier: TierName): PoolName {
  return tier === 'ELITE' || tier === 'BLACK' ? 'premium' : 'shared';
}

export function isTierName(value: string): value is TierName {
  return (TIERS as readonly string[]).includes(value);
}
