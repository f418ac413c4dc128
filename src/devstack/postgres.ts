import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { launch, waitForPort, type OwnedProcess } from './process.js';

export interface PostgresOptions {
  dir: string;
  port: number;
  /** Turn off fsync for throwaway test databases; never for the stack. */
  unsafeFast?: boolean;
}

export const PG_USER = 'tierbook';
export const PG_DATABASE = 'tierbook';

/** Debian keeps the server binaries out of PATH. */
function pgBin(name: string): string {
  for (const v of ['17', '16', '15']) {
    const p = `/usr/lib/postgresql/${v}/bin/${name}`;
    if (existsSync(p)) return p;
  }
  return name;
}

/** Postgres refuses to run as root: as root we run it as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/**
 * The first folder above `dir` that the server user may not enter (no search permission for
 * others, owned by someone else), or undefined. A `mktemp -d` folder (mode 0700) as
 * TIERBOOK_STACK_DIR is one: initdb would fail with nothing but its exit code.
 */
export function unreachableAncestor(dir: string, uid: number): string | undefined {
  for (let d = dirname(resolve(dir)); ; d = dirname(d)) {
    const st = statSync(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0) return d;
    if (d === dirname(d)) return undefined;
  }
}

/**
 * Initializes (once) and starts a Postgres cluster in `dir` on a loopback port, with trust
 * auth for the local `tierbook` superuser and a `tierbook` database.
 */
export async function startPostgres(opts: PostgresOptions): Promise<OwnedProcess & { url: string }> {
  const user = runAs();
  const data = join(opts.dir, 'data');
  mkdirSync(opts.dir, { recursive: true });
  const blocked = user && unreachableAncestor(opts.dir, user.uid);
  if (blocked) {
    const mode = (statSync(blocked).mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`Postgres runs as the postgres user, who cannot enter ${blocked} (mode ${mode}): `
      + `allow it (chmod o+x ${blocked}) or put the data elsewhere (TIERBOOK_STACK_DIR)`);
  }
  // The server user must be able to reach and own its folder.
  chmodSync(opts.dir, 0o755);
  if (user) chownSync(opts.dir, user.uid, user.gid);
  if (!existsSync(join(data, 'PG_VERSION'))) {
    execFileSync(pgBin('initdb'), ['-D', data, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--no-instructions'], {
      stdio: 'ignore',
      ...(user ?? {}),
    });
  }
  const args = [
    '-D', data,
    '-p', String(opts.port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', `unix_socket_directories=${opts.dir}`,
    '-c', 'max_connections=200',
    '-c', 'shared_buffers=256MB',
  ];
  if (opts.unsafeFast) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const logFile = join(opts.dir, 'postgres.log');
  const proc = launch({ name: `postgres:${opts.port}`, command: pgBin('postgres'), args, logFile, ...(user ?? {}) });
  await waitForPort(opts.port, '127.0.0.1', 30_000, { pid: proc.pid, logFile });
  await waitReady(opts.port);
  try {
    execFileSync(pgBin('createdb'), ['-h', '127.0.0.1', '-p', String(opts.port), '-U', PG_USER, PG_DATABASE], { stdio: 'ignore' });
  } catch {
    /* already there */
  }
  return { ...proc, url: `postgres://${PG_USER}@127.0.0.1:${opts.port}/${PG_DATABASE}` };
}

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      execFileSync(pgBin('pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres on ${port} did not become ready`);
}
