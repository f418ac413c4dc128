/** The parts of a W3C `traceparent` header (https://www.w3.org/TR/trace-context/) a log line keeps. */
export interface TraceContext {
  /** 32 lowercase hex digits: the whole distributed trace. */
  traceId: string;
  /** 16 lowercase hex digits: the caller's span, the parent of this call. */
  parentId: string;
  /** The caller's sampled flag (trace-flags bit 0). */
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Reads a `traceparent` value as the W3C spec says a receiver must: lowercase hex only,
 * version ff invalid, all-zero trace or parent id invalid, exactly four fields for version
 * 00 and at least four (the rest ignored) for later versions. Anything else is no context:
 * a malformed header is dropped rather than logged, since the caller's value is untrusted.
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A context as a version-00 `traceparent` value (what travels on to the stream events). */
export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.parentId}-${t.sampled ? '01' : '00'}`;
}

/**
 * The caller's `traceparent`, validated and normalized, for the work the call hands on (its
 * stream events); undefined when it carried none or an invalid one. One metadata lookup for
 * a call without the header.
 */
export function forwardedTraceparent(metadata: { get(key: string): unknown[] } | undefined): string | undefined {
  const raw = metadata?.get('traceparent')[0];
  if (raw === undefined) return undefined;
  const t = parseTraceparent(raw);
  return t && formatTraceparent(t);
}
