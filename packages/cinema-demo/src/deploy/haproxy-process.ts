import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HaproxyLayout, renderDemoHaproxyConfig } from './haproxy-config.js';
import { watchChild } from './watched-child.js';

/** A server of a backend as HAProxy's health checks see it (`UP`, `DOWN`, `MAINT`, `no check`, ...). */
export interface ServerState {
  backend: string;
  server: string;
  status: string;
  /** Requests (sessions) it was given so far. */
  sessions: number;
}

/** A running HAProxy in front of processes on this machine. */
export interface HaproxyProcess {
  /** The public frontend, e.g. `http://127.0.0.1:18080`. */
  url: string;
  child: ChildProcess;
  /** Every server's state, from the stats page's CSV export. */
  servers(): Promise<ServerState[]>;
  /** What HAProxy wrote (its request log and health-check changes), the last 20 kB. */
  output(): string;
  stop(): Promise<void>;
}

/** Whether the machine has HAProxy (Debian/Ubuntu: `apt-get install -y haproxy`; `.ci/run` installs it). */
export function haproxyInstalled(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts HAProxy with the demo's template rendered for `layout` (plus a stats page on `statsPort`, loopback only,
 * with a throwaway password) and resolves once every API server is `UP` by its health checks, or fails within
 * `readyTimeoutMs` with HAProxy's output.
 *
 * @example
 * const proxy = await startHaproxy({ bind: '127.0.0.1:18080', apiServers, readModelServers }, { statsPort: 18404 });
 * await fetch(`${proxy.url}/healthz`);
 * await proxy.stop();
 */
export async function startHaproxy(
  layout: HaproxyLayout,
  o: { statsPort: number; readyTimeoutMs?: number },
): Promise<HaproxyProcess> {
  if (!haproxyInstalled()) {
    throw new Error('haproxy is not installed: apt-get install -y haproxy (.ci/run installs it)');
  }
  const dir = await mkdtemp(join(tmpdir(), 'cinema-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, renderDemoHaproxyConfig(layout));
  const password = randomBytes(12).toString('hex');
  const env = {
    ...process.env,
    HAPROXY_STATS_BIND: `127.0.0.1:${o.statsPort}`,
    HAPROXY_STATS_PASSWORD: password,
  };
  execFileSync('haproxy', ['-c', '-q', '-f', cfg], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  // -db: stay in the foreground, so that the child is HAProxy itself and a kill reaches it.
  const child = spawn('haproxy', ['-db', '-f', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, running, exited } = watchChild(child);
  const authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
  const proxy: HaproxyProcess = {
    url: `http://${layout.bind}`,
    child,
    output,
    async servers() {
      const res = await fetch(`http://127.0.0.1:${o.statsPort}/;csv`, {
        headers: { authorization },
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) throw new Error(`HAProxy stats answered ${res.status}`);
      return parseStatsCsv(await res.text());
    },
    async stop() {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (!running()) throw new Error(`haproxy exited during start-up:\n${output()}`);
    const states = await proxy.servers().catch(() => []);
    const api = states.filter((s) => s.backend === 'api');
    if (api.length === layout.apiServers.length && api.every((s) => s.status === 'UP')) return proxy;
    if (Date.now() > deadline) {
      await proxy.stop();
      throw new Error(
        `haproxy's API servers not all UP after ${o.readyTimeoutMs ?? 30_000} ms:\n${output()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The servers' rows of HAProxy's stats CSV (`# pxname,svname,...,status,...`). */
export function parseStatsCsv(csv: string): ServerState[] {
  const [header, ...lines] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const at = (name: string) => columns.indexOf(name);
  const [pxname, svname, status, stot] = [at('pxname'), at('svname'), at('status'), at('stot')];
  return lines
    .map((line) => line.split(','))
    .filter((f) => f[svname] !== 'FRONTEND' && f[svname] !== 'BACKEND')
    .map((f) => ({
      backend: f[pxname] ?? '',
      server: f[svname] ?? '',
      status: f[status] ?? '',
      sessions: Number(f[stot] ?? 0),
    }));
}
