import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../shared/paths.js';
import { launch, waitForPort, type OwnedProcess } from './process.js';
import { listenBlock, upstreamBlock, type NginxTls } from './nginx-tls.js';

export type { NginxTls } from './nginx-tls.js';

export interface NginxOptions {
  dir: string;
  port: number;
  /** Gateway ports to balance over, on each of `upstreamHosts`. */
  upstreamPorts: number[];
  /**
   * Addresses of the gateway hosts (default just 127.0.0.1). Every host runs the same port
   * layout (TIERBOOK_GATEWAY_BASE_PORT, TIERBOOK_GATEWAY_PROCESSES) on its own bind address
   * (TIERBOOK_GATEWAY_HOST), so the upstream lists each port on each host.
   */
  upstreamHosts?: string[];
  maxMessageBytes: number;
  /** Serve clients over TLS instead of h2c. */
  tls?: NginxTls;
  /** Premium-only gateways (src/shared/gateway-layout.ts): their own port and upstream group. */
  premium?: { port: number; upstreamPorts: number[] };
}

/** The template's upstream block, found by its name (it ends at the first line "    }"). */
const UPSTREAM_BLOCK = /    upstream tierbook_gateways \{[\s\S]*?\n    \}\n/;

const serverLines = (ports: number[], hosts: string[] = ['127.0.0.1']) =>
  hosts
    .flatMap((h) => ports.map((p) => `${h}:${p}`))
    // max_fails=0: a gateway that restarts is never blacklisted; connect errors retry elsewhere.
    .map((address) => `        server ${address} max_fails=0;`)
    .join('\n');

/** Fills in deploy/nginx/tierbook.conf.template for this run. */
export function renderNginxConfig(opts: NginxOptions): string {
  let template = readFileSync(fromRoot('deploy', 'nginx', 'tierbook.conf.template'), 'utf8');
  const listens = [`127.0.0.1:${opts.port}`];
  let route = '';
  if (opts.premium) {
    listens.push(`127.0.0.1:${opts.premium.port}`);
    route = `        ${opts.premium.port} tierbook_premium;`;
    // The premium group is the same upstream block (keepalive and all) with its own servers.
    const block = UPSTREAM_BLOCK.exec(template)?.[0];
    if (!block) throw new Error('deploy/nginx/tierbook.conf.template has no "upstream tierbook_gateways" block');
    const premiumBlock = block.replace('tierbook_gateways', 'tierbook_premium').replace('{{UPSTREAM_SERVERS}}', serverLines(opts.premium.upstreamPorts, opts.upstreamHosts));
    template = template.replace(block, `${block}\n${premiumBlock}`);
  }
  return template
    .replaceAll('{{PREMIUM_ROUTE}}', route)
    .replaceAll('{{LISTEN_BLOCK}}', listenBlock(listens, opts.tls))
    .replaceAll('{{UPSTREAM_BLOCK}}', upstreamBlock(opts.tls))
    .replaceAll('{{PREFIX}}', opts.dir)
    .replaceAll('{{UPSTREAM_SERVERS}}', serverLines(opts.upstreamPorts, opts.upstreamHosts))
    .replaceAll('{{MAX_BODY}}', String(opts.maxMessageBytes + 5));
}

/** Starts Debian's nginx in the foreground with a rendered config in `dir`. */
export async function startNginx(opts: NginxOptions): Promise<OwnedProcess> {
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'nginx.conf');
  writeFileSync(conf, renderNginxConfig(opts));
  // Fail with nginx's own words if the config is wrong, before anything waits on a port.
  execFileSync('nginx', ['-t', '-q', '-p', opts.dir, '-c', conf], { stdio: 'pipe' });
  const proc = launch({ name: `nginx:${opts.port}`, command: 'nginx', args: ['-p', opts.dir, '-c', conf], logFile: join(opts.dir, 'nginx.out') });
  await waitForPort(opts.port);
  if (opts.premium) await waitForPort(opts.premium.port);
  return proc;
}
