/**
 * A tiny SVG writer for the report's two kinds of chart: grouped bars with horizontal limit
 * lines (latency percentiles against SLAs) and lines over time (throughput, errors). Plain
 * strings, no dependency: the charts are simple and must open in any browser or Markdown view.
 */

export interface BarGroup {
  label: string;
  bars: { label: string; value: number; color: string }[];
}

export interface LimitLine {
  label: string;
  value: number;
  color: string;
}

export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number }[];
}

const W = 860;
const H = 360;
const M = { top: 40, right: 270, bottom: 48, left: 64 };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * A "nice" axis maximum at or above v whose quarters are round too (ticks at 0, 1/4, ... 1),
 * and tight enough (within 25 %) that the data fills the chart.
 */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 4.8, 6, 8, 10]) if (m * e >= v * (1 - 1e-12)) return m * e;
  return 10 * e;
}

/** Formats a number for an axis or a label: short, no float noise. */
export function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10_000) return `${(v / 1000).toFixed(a >= 100_000 ? 0 : 1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** An axis tick: whole numbers stay whole ("8", not "8.00"). */
function tick(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 10_000 ? String(v) : fmt(v);
}

function frame(title: string, yLabel: string, xLabel: string, yMax: number, logY: boolean): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="16" y="${M.top + (H - M.top - M.bottom) / 2}" transform="rotate(-90 16 ${M.top + (H - M.top - M.bottom) / 2})" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
  ];
  const ticks = logY ? logTicks(yMax) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  for (const t of ticks) {
    const y = yScale(t, yMax, logY);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${tick(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return out;
}

const LOG_MIN = 0.1;

function logTicks(yMax: number): number[] {
  const t: number[] = [];
  for (let v = LOG_MIN; v <= yMax * 1.0001; v *= 10) t.push(v);
  return t;
}

function yScale(v: number, yMax: number, logY: boolean): number {
  const h = H - M.top - M.bottom;
  const f = logY ? (Math.log10(Math.max(v, LOG_MIN)) - Math.log10(LOG_MIN)) / (Math.log10(yMax) - Math.log10(LOG_MIN)) : v / yMax;
  return +(H - M.bottom - Math.min(1, Math.max(0, f)) * h).toFixed(1);
}

function legend(items: { label: string; color: string; dashed?: boolean }[]): string[] {
  return items.map((it, i) => {
    const y = M.top + 8 + i * 18;
    const x = W - M.right + 14;
    return `<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${it.color}" stroke-width="${it.dashed ? 2 : 8}"${it.dashed ? ' stroke-dasharray="6 3"' : ''}/>` +
      `<text x="${x + 24}" y="${y + 4}">${escapeXml(it.label)}</text>`;
  });
}

/**
 * Grouped bars with dashed limit lines. `logY` (0.1 ms floor) keeps sub-millisecond baseline
 * bars and 100 ms SLA lines readable on one chart.
 */
export function barChart(opts: { title: string; yLabel: string; groups: BarGroup[]; limits: LimitLine[]; logY?: boolean }): string {
  const logY = opts.logY ?? false;
  const values = opts.groups.flatMap((g) => g.bars.map((b) => b.value)).concat(opts.limits.map((l) => l.value));
  const yMax = logY ? Math.pow(10, Math.ceil(Math.log10(Math.max(LOG_MIN * 10, ...values) * 1.05))) : niceMax(Math.max(...values, 0) * 1.1);
  const out = frame(opts.title, opts.yLabel, '', yMax, logY);
  const plotW = W - M.left - M.right;
  const gw = plotW / Math.max(1, opts.groups.length);
  const seenBars = new Map<string, string>();
  opts.groups.forEach((g, gi) => {
    const bw = Math.min(28, (gw - 16) / Math.max(1, g.bars.length));
    const x0 = M.left + gi * gw + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      seenBars.set(b.label, b.color);
      const y = yScale(b.value, yMax, logY);
      const x = +(x0 + bi * bw).toFixed(1);
      out.push(`<rect class="bar" data-label="${escapeXml(g.label)} ${escapeXml(b.label)}" data-value="${b.value}" x="${x}" y="${y}" width="${(bw - 2).toFixed(1)}" height="${(H - M.bottom - y).toFixed(1)}" fill="${b.color}"><title>${escapeXml(`${g.label} ${b.label}: ${fmt(b.value)}`)}</title></rect>`);
      out.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${y - 3}" text-anchor="middle" font-size="9">${fmt(b.value)}</text>`);
    });
    out.push(`<text x="${(M.left + gi * gw + gw / 2).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${escapeXml(g.label)}</text>`);
  });
  for (const l of opts.limits) {
    const y = yScale(l.value, yMax, logY);
    out.push(`<line class="limit" data-label="${escapeXml(l.label)}" data-value="${l.value}" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="2" stroke-dasharray="6 3"/>`);
  }
  out.push(...legend([...[...seenBars].map(([label, color]) => ({ label, color })), ...opts.limits.map((l) => ({ label: l.label, color: l.color, dashed: true }))]));
  out.push('</svg>');
  return out.join('\n');
}

/** Lines over a shared x axis (seconds), e.g. OK calls/s and errors/s per stream. */
export function lineChart(opts: { title: string; yLabel: string; xLabel: string; series: Series[]; limits?: LimitLine[] }): string {
  const limits = opts.limits ?? [];
  const ys = opts.series.flatMap((s) => s.points.map((p) => p.y)).concat(limits.map((l) => l.value));
  const xs = opts.series.flatMap((s) => s.points.map((p) => p.x));
  const yMax = niceMax(Math.max(1, ...ys) * 1.05);
  // A round axis end, so the four x ticks land on whole, readable numbers.
  const xMax = niceMax(Math.max(1, ...xs));
  const out = frame(opts.title, opts.yLabel, opts.xLabel, yMax, false);
  const plotW = W - M.left - M.right;
  const xAt = (x: number) => +(M.left + (x / xMax) * plotW).toFixed(1);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(`<text x="${xAt(f * xMax)}" y="${H - M.bottom + 16}" text-anchor="middle">${tick(f * xMax)}</text>`);
  }
  for (const s of opts.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${xAt(p.x)},${yScale(p.y, yMax, false)}`).join(' ');
    out.push(`<path class="series" data-label="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
  }
  for (const l of limits) {
    const y = yScale(l.value, yMax, false);
    out.push(`<line class="limit" data-label="${escapeXml(l.label)}" data-value="${l.value}" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="2" stroke-dasharray="6 3"/>`);
  }
  out.push(...legend([...opts.series.map((s) => ({ label: s.label, color: s.color })), ...limits.map((l) => ({ label: l.label, color: l.color, dashed: true }))]));
  out.push('</svg>');
  return out.join('\n');
}
