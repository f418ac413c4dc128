import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Instrument, StreamSpec } from './scenario.js';

/**
 * Turns a ghz config template (loadtest/ghz/*.json) into the config one ghz process runs:
 * placeholders filled (__RUN__, __STREAM__, __PEER__, __SYMBOL__, __MID__, __TICK__, __QTY_UNIT__,
 * __QTY_MAX__), then
 * host, rate, connections, auth metadata and JSON output set here, so every stream and the
 * baseline get identical ghz settings apart from where they point.
 */

export interface GhzSettings {
  host: string;
  rps: number;
  durationSec: number;
  connections: number;
  concurrency: number;
  output: string;
  apiKey?: string;
}

export function resolveGhzConfig(
  root: string,
  stream: StreamSpec,
  runId: string,
  instrument: Instrument,
  s: GhzSettings,
): Record<string, unknown> {
  const text = readFileSync(join(root, 'loadtest', 'ghz', stream.config), 'utf8')
    .replaceAll('__RUN__', runId)
    .replaceAll('__STREAM__', stream.name)
    .replaceAll('__PEER__', stream.peer ?? stream.name)
    .replaceAll('__SYMBOL__', instrument.symbol)
    .replaceAll('__MID__', String(instrument.midTicks))
    .replaceAll('__TICK__', String(instrument.tick))
    .replaceAll('__QTY_UNIT__', String(instrument.qtyUnit))
    // randomInt's upper bound is exclusive.
    .replaceAll('__QTY_MAX__', String(instrument.qtyMax + 1));
  const cfg = JSON.parse(text) as Record<string, unknown>;
  const connections = Math.max(1, s.connections);
  return {
    ...cfg,
    name: `${stream.name}: ${String(cfg.name ?? stream.config)}`,
    host: s.host,
    insecure: true,
    // Open loop: with a rate, ghz fires on schedule (async) instead of waiting for replies, so
    // a slow server cannot slow the offered load down (no coordinated omission).
    rps: s.rps,
    async: s.rps > 0,
    duration: `${s.durationSec}s`,
    // At the end, wait for calls in flight instead of closing the connections under them:
    // 'close' would count those calls as UNAVAILABLE, errors the server never made.
    'duration-stop': 'wait',
    connections,
    // ghz spreads workers over connections; it needs at least one per connection.
    concurrency: Math.max(connections, s.concurrency),
    ...(s.apiKey ? { metadata: { authorization: `Bearer ${s.apiKey}` } } : {}),
    format: 'json',
    output: s.output,
  };
}
