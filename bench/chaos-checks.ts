/**
 * What the chaos bench checks in Postgres after a fault: every acknowledged order arrived,
 * none twice, positions still sum to zero; and, while the fault runs, how far the sync lags
 * behind the acknowledgements (measured from outside, since the sync dies with the primary).
 */
import postgres from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AckedOrder } from './chaos-load.js';

type Sql = ReturnType<typeof postgres>;

export function openSql(url: string): Sql {
  // Short connect timeout: while Postgres is down the probe retries instead of hanging.
  return postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 2, idle_timeout: 5 });
}

/** One lag sample: an order acknowledged at ackAt was first seen in Postgres at foundAt. */
export interface LagSample {
  ackAt: number;
  foundAt: number;
}

/**
 * Measures the append -> commit lag end to end: take the newest acknowledged order, poll
 * Postgres (by order id: the primary key) until its row is there, note the time, repeat.
 * While the sync or Postgres is down a sample simply takes longer.
 */
export function startLagProbe(sql: Sql, acked: AckedOrder[]): { samples: LagSample[]; stop(): Promise<void> } {
  const samples: LagSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const o = acked.at(-1);
      if (!o) {
        await sleep(20);
        continue;
      }
      for (;;) {
        if (stopped) return;
        const found = await sql`select 1 from orders where order_id = ${o.orderId}`.then((r) => r.length > 0, () => false);
        if (found) break;
        await sleep(20);
      }
      samples.push({ ackAt: o.ackAt, foundAt: Date.now() });
      await sleep(50);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Waits, bounded, until every acknowledged order is in Postgres; returns the missing ones. */
export async function missingOrders(sql: Sql, orderIds: string[], timeoutMs: number): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  let missing = orderIds;
  for (;;) {
    const rows = await sql<{ order_id: string }[]>`select order_id from orders where order_id = any(${missing})`.catch(() => undefined);
    if (rows) {
      const found = new Set(rows.map((r) => r.order_id));
      missing = missing.filter((id) => !found.has(id));
    }
    if (missing.length === 0 || Date.now() > until) return missing;
    await sleep(500);
  }
}

/**
 * Rows that exist twice in effect: two orders for one client order id (a retry that the
 * idempotency key did not catch), or two fills for one fill id.
 */
export async function duplicatedRows(sql: Sql, prefix: string): Promise<number> {
  const [o] = await sql<{ n: string }[]>`
    select (count(*) - count(distinct (account_id, client_order_id)))::text as n from orders where client_order_id like ${prefix + '-%'}`;
  const [f] = await sql<{ n: string }[]>`select (count(*) - count(distinct fill_id))::text as n from fills`;
  return Number(o!.n) + Number(f!.n);
}

/** Symbols whose positions over all accounts do not sum to zero (conservation), as "SYM: n". */
export async function unbalancedSymbols(sql: Sql): Promise<string[]> {
  const rows = await sql<{ symbol: string; total: string }[]>`select symbol, sum(quantity)::text as total from positions group by symbol`;
  return rows.filter((r) => r.total !== '0').map((r) => `${r.symbol}: ${r.total}`);
}
