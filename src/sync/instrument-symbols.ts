import { readFileSync } from 'node:fs';

/**
 * The symbols declared in config/instruments.json, whatever its exact shape: an array of
 * instruments, `{ instruments: [...] }`, or an object keyed by symbol. Each instrument is
 * returned with its declaration so Postgres can keep it. A missing or unreadable file yields
 * none: streams are also discovered in Redis, so the sync never depends on this file alone.
 */
export function readInstrumentSpecs(file: string): Map<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
  const out = new Map<string, unknown>();
  const list = Array.isArray(doc) ? doc : Array.isArray((doc as { instruments?: unknown })?.instruments) ? (doc as { instruments: unknown[] }).instruments : undefined;
  if (list) {
    for (const item of list) {
      const sym = (item as { symbol?: unknown; sym?: unknown })?.symbol ?? (item as { sym?: unknown })?.sym;
      if (typeof sym === 'string' && sym) out.set(sym, item);
    }
  } else if (doc && typeof doc === 'object') {
    for (const [sym, spec] of Object.entries(doc as Record<string, unknown>)) out.set(sym, spec);
  }
  return out;
}
