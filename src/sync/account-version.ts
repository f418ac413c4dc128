/**
 * The per-account version the sync thread increments after it commits fills or position
 * changes of an account: `acct:{<ACCOUNT>}:ver`. The analytics cache keeps the version it
 * computed an answer at and recomputes when this key has moved. The hash tag is the account,
 * so on Redis Cluster each account's key lives in one slot of its own.
 */
export function accountVersionKey(accountId: string): string {
  return `acct:{${accountId}}:ver`;
}
