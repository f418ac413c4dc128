/**
 * The metric names a PromQL expression reads: strings, label matchers, ranges and label
 * lists (by/without/on/ignoring) are removed, then every identifier that is not a function
 * call, a keyword or part of a number is a metric name.
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = bare[m.index - 1] ?? ' ';
    const after = bare.slice(m.index + m[0].length).trimStart()[0];
    if (/[0-9.]/.test(before) || after === '(' || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return [...new Set(names)];
}

/** Every `expr` string anywhere in a parsed JSON document (Grafana targets, annotations). */
export function exprsIn(doc: unknown): string[] {
  if (Array.isArray(doc)) return doc.flatMap(exprsIn);
  if (doc && typeof doc === 'object') {
    return Object.entries(doc).flatMap(([k, v]) => (k === 'expr' && typeof v === 'string' ? [v] : exprsIn(v)));
  }
  return [];
}
