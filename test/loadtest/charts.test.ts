/**
 * The report's charts, drawn by vega-lite + vega headless: each SVG holds the series and the
 * SLA lines it should, at the measured values (read back from the marks' aria labels and
 * positions), and rsvg-convert (Debian's librsvg2-bin) turns every one into a PNG of the
 * chart's size, as a person opening the report would see it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorsChart, latencyChart, memoryChart, sweepChart, throughputChart } from '../../loadtest/charts.js';
import { renderSvg } from '../../loadtest/vega-render.js';
import { run } from '../support/tools.js';
import { sample } from './support/sample-report.js';

/** The data marks of a chart (bars, lines, rules): their aria label as fields, and where they sit. */
interface Mark {
  kind: string;
  fields: Record<string, string>;
  /** Top edge of a bar, y of a rule (px from the plot's top). */
  y: number;
}

function marks(svg: string): Mark[] {
  const out: Mark[] = [];
  for (const m of svg.matchAll(/<(path|line) aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="(bar|line mark|rule mark)"([^>]*)>/g)) {
    const fields = Object.fromEntries(m[2]!.replaceAll('&lt;', '<').split('; ').map((kv) => [kv.slice(0, kv.indexOf(': ')), kv.slice(kv.indexOf(': ') + 2)]));
    const attrs = m[4]!;
    const y = m[3] === 'rule mark' ? Number(/translate\([\d.]+,([\d.e-]+)\)/.exec(attrs)![1]) : Number(/d="M[\d.]+,([\d.e-]+)/.exec(attrs)?.[1] ?? NaN);
    out.push({ kind: m[3]!, fields, y });
  }
  return out;
}

const r = sample();
const soak = [0, 30, 60, 90].flatMap((t) => ['gateway-0', 'gateway-1', 'primary'].map((process, i) => ({ t, process, rssMiB: 200 + 10 * i + t / 10, heapMiB: 30 + i })));
const svgs = new Map<string, string>();
before(async () => {
  svgs.set('latency', await renderSvg(latencyChart(r)));
  svgs.set('throughput', await renderSvg(throughputChart(r)));
  svgs.set('errors', await renderSvg(errorsChart(r)));
  svgs.set('sweep', await renderSvg(sweepChart(r)!));
  svgs.set('memory', await renderSvg(memoryChart('Soak memory', soak)));
});

describe('latency chart', () => {
  it('draws one dashed line per SLA at its value', () => {
    const rules = marks(svgs.get('latency')!).filter((m) => m.kind === 'rule mark');
    assert.deepEqual(rules.map((m) => [m.fields.SLA, Number(m.fields.value)]), [
      ['seed: premium p95 < 50 ms', 50],
      ['seed: shared p95 < 100 ms', 100],
      ['target: premium p99 <= 5 ms', 5],
      ['target: shared p99 <= 10 ms', 10],
    ]);
    assert.match(svgs.get('latency')!, /stroke-dasharray="6,3"/);
  });

  it('draws a bar per percentile and tier at the measured value, the 5 ms bar level with the 5 ms line', () => {
    const svg = svgs.get('latency')!;
    const all = marks(svg);
    const bars = new Map(all.filter((m) => m.kind === 'bar').map((m) => [`${m.fields.percentile} ${m.fields.series}`, { v: Number(m.fields['ms (log scale)']), y: m.y }]));
    assert.equal(bars.size, 4 * 3);
    assert.equal(bars.get('p99 shared')!.v, 12.5);
    assert.equal(bars.get('p50 baseline-echo')!.v, 0.4);
    const line5 = all.find((m) => m.kind === 'rule mark' && m.fields.value === '5')!.y;
    assert.ok(Math.abs(bars.get('p99 premium')!.y - line5) < 1e-6, `5 ms bar top ${bars.get('p99 premium')!.y} = 5 ms line ${line5}`);
    assert.ok(bars.get('p99 shared')!.y < line5, 'a larger value is drawn higher');
    // The legend names every tier and baseline, and the title the scenario.
    for (const label of ['premium', 'shared', 'baseline-echo', 'Latency per tier — mixed-orders']) assert.ok(svg.includes(`>${label}</text>`), label);
  });
});

describe('charts over time', () => {
  it('throughput and errors: one line per stream, through every second', () => {
    for (const name of ['throughput', 'errors']) {
      const lines = marks(svgs.get(name)!).filter((m) => m.kind === 'line mark');
      assert.deepEqual(lines.map((m) => m.fields.stream), ['baseline-echo (baseline)', 'premium-maker (premium)', 'shared-maker (shared)'], name);
    }
    // The shared stream failed 10 calls in 10 s: 1 a second from the first.
    const shared = marks(svgs.get('errors')!).find((m) => m.fields.stream === 'shared-maker (shared)')!;
    assert.equal(shared.fields['errors/s'], '1');
  });

  it('sweep: p99 per tier against the offered rate, with the p95 and p99 SLA lines', () => {
    const all = marks(svgs.get('sweep')!);
    assert.deepEqual(all.filter((m) => m.kind === 'line mark').map((m) => m.fields.measured), ['premium p99', 'shared p99']);
    assert.ok(all.some((m) => m.kind === 'rule mark' && m.fields.SLA === 'target: premium p99 <= 5 ms' && m.fields.value === '5'));
  });

  it("a soak's memory: RSS and heap per process, one panel each", () => {
    const svg = svgs.get('memory')!;
    const lines = marks(svg).filter((m) => m.kind === 'line mark');
    assert.deepEqual(lines.map((m) => m.fields.process), ['gateway-0', 'gateway-1', 'primary', 'gateway-0', 'gateway-1', 'primary']);
    for (const title of ['Resident memory (RSS)', 'V8 heap in use (main thread)']) assert.ok(svg.includes(`>${title}</text>`), title);
  });
});

describe('rsvg-convert', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tierbook-charts-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('turns every chart into a PNG of the SVG size', async () => {
    for (const [name, svg] of svgs) {
      const file = join(dir, `${name}.svg`);
      writeFileSync(file, svg);
      const res = await run('rsvg-convert', ['-o', join(dir, `${name}.png`), file]);
      assert.equal(res.code, 0, `rsvg-convert ${name}: ${res.stderr || 'not installed? scripts/setup.sh installs librsvg2-bin'}`);
      const png = readFileSync(join(dir, `${name}.png`));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}.png is a PNG`);
      const [w, h] = [/<svg[^>]* width="(\d+)"/.exec(svg)![1], /<svg[^>]* height="(\d+)"/.exec(svg)![1]].map(Number);
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [w, h], `${name}.png size`);
      assert.ok(png.length > 10_000, `${name}.png has a picture in it (${png.length} bytes)`);
    }
  });
});
