/**
 * Where a process spent its CPU: reads V8 `.cpuprofile` files (written by `node --cpu-prof`,
 * e.g. a gateway run with NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR") and prints self time
 * by where the code lives (our src/, each npm package, Node's internals, GC, native) and the
 * top functions, as markdown tables. Idle time is left out of the percentages.
 *
 *   node dist/bench/cpu-profile-summary.js DIR_OR_FILE... [--top 15]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });

/** Where a frame's code lives, in words an operator reads. */
export function placeOf(frame: ProfileNode['callFrame']): string {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)' || fn === '(root)') return 'native / VM';
  if (fn === '(idle)') return 'idle';
  if (url === '') return 'native / VM';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts[0] === 'internal' && parts.length > 2 ? `internal/${parts[1]}` : parts[0]}`;
  }
  const ours = /\/dist\/((?:src|bench|loadtest)\/[^/]+)/.exec(url);
  return ours ? ours[1]! : url;
}

function files(paths: string[]): string[] {
  return paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));
}

const byPlace = new Map<string, number>();
const byFunction = new Map<string, number>();
let busyUs = 0;
const perFile: { file: string; us: number }[] = [];
const list = files(positionals);
if (list.length === 0) throw new Error('no .cpuprofile files given (a folder or files)');
for (const f of list) {
  const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const before = busyUs;
  p.samples.forEach((id, i) => {
    const n = nodes.get(id);
    const us = p.timeDeltas[i] ?? 0;
    if (!n) return;
    const place = placeOf(n.callFrame);
    if (place === 'idle') return;
    busyUs += us;
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${place}:${n.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  });
  perFile.push({ file: f, us: busyUs - before });
}
const top = Number(args.top);
const pct = (us: number) => ((100 * us) / busyUs).toFixed(1);
console.log(`${list.length} profile(s), ${(busyUs / 1e6).toFixed(2)} s of CPU (idle left out)\n`);
// Node names them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is a
// process's event loop, the others its worker threads.
console.log('| profile | thread | CPU s |\n| --- | --- | ---: |');
for (const { file, us } of perFile.sort((a, b) => b.us - a.us)) {
  const m = /CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file);
  console.log(`| ${m ? `pid ${m[1]}` : file} | ${m ? (m[2] === '0' ? 'event loop' : `worker thread ${m[2]}`) : '?'} | ${(us / 1e6).toFixed(2)} |`);
}
console.log('\n| where | self % |\n| --- | ---: |');
for (const [k, v] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${k} | ${pct(v)} |`);
console.log('\n| function | self % |\n| --- | ---: |');
for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| \`${k}\` | ${pct(v)} |`);
