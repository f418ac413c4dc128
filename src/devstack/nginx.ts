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
  /** Gateway ports on 127.0.0.1 to balance over. */
  upstreamPorts: number[];
  maxMessageBytes: number;
  /** Serve clients over TLS instead of h2c. */
  tls?: NginxTls;
}

/** Fills in deploy/nginx/tierbook.conf.template for this run. */
export function renderNginxConfig(opts: NginxOptions): string {
  const servers = opts.upstreamPorts
    // max_fails=0: a gateway that restarts is never blacklisted; connect errors retry elsewhere.
    .map((p) => `        server 127.0.0.1:${p} max_fails=0;`)
    .join('\n');
  return readFileSync(fromRoot('deploy', 'nginx', 'tierbook.conf.template'), 'utf8')
    .replaceAll('{{LISTEN_BLOCK}}', listenBlock(`127.0.0.1:${opts.port}`, opts.tls))
    .replaceAll('{{UPSTREAM_BLOCK}}', upstreamBlock(opts.tls))
    .replaceAll('{{PREFIX}}', opts.dir)
    .replaceAll('{{UPSTREAM_SERVERS}}', servers)
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
  return proc;
}
