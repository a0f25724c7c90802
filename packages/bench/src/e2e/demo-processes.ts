import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  type HaproxyProcess,
  haproxyInstalled,
  startHaproxy,
} from '../../../cinema-demo/src/deploy/haproxy-process.js';

const apiServer = fileURLToPath(new URL('../../../cinema-demo/dist/api-server.js', import.meta.url));

/** The demo's API processes behind HAProxy (when installed) that an e2e cell drives. */
export interface DemoDeployment {
  /** Where the load goes: HAProxy's port, or the single instance's. */
  baseUrl: string;
  instances: number;
  proxied: boolean;
  /** Why the deployment is what it is (e.g. "HAProxy not installed: one instance, no proxy"). */
  note: string;
  /** Process ids of the running API instances (for the CPU meter). */
  apiPids(): number[];
  /** HAProxy's process id (undefined without a proxy). */
  proxyPid(): number | undefined;
  /** kill -9 of one API instance, then a restart of it on the same port under a new id (crash injection). */
  crashInstance(index: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    if (child.exitCode !== null)
      throw new Error(`API process exited with code ${child.exitCode} during start-up`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms`);
}

/**
 * Starts `instances` API processes of the built demo (`packages/cinema-demo/dist/api-server.js`) on the three
 * databases, and HAProxy in front of them — the compose file's configuration, rendered for these processes
 * (`cinema-demo/src/deploy`), health checks every 500 ms — even for one instance, so that every figure includes
 * the proxy hop a deployment has. Without HAProxy: one instance and no proxy (the note says so). Payment
 * declines are the demo's own failure injection (`PAYMENT_DECLINE_RATE`).
 */
export async function startDemo(options: {
  urls: string[];
  instances: number;
  declineRate: number;
  basePort: number;
  log: (line: string) => void;
  /** More environment for the API processes (e.g. `LOG_LEVEL`). */
  env?: Record<string, string>;
}): Promise<DemoDeployment> {
  const proxied = haproxyInstalled();
  const instances = proxied ? options.instances : 1;
  const note = proxied
    ? `${instances} API instance${instances > 1 ? 's' : ''} behind HAProxy (round robin)`
    : 'HAProxy not installed: one API instance, no proxy';
  const [seats, payments, tickets] = options.urls;
  const env = {
    ...process.env,
    SEATS_DATABASE_URL: seats,
    PAYMENTS_DATABASE_URL: payments,
    TICKETS_DATABASE_URL: tickets,
    OPERATOR_TOKEN: randomBytes(16).toString('hex'),
    BOOKINGS_PER_MINUTE: '100000',
    // Every bench client is signed up from this one machine.
    SIGN_UPS_PER_CLIENT: '100000',
    PAYMENT_DECLINE_RATE: String(options.declineRate),
    LOG_LEVEL: 'warn',
    POOL_SIZE: '40',
    ...options.env,
  };
  // e.g. E2E_API_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the instances (node refuses
  // --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.E2E_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const children: ChildProcess[] = [];
  const portOf = (i: number) => options.basePort + 1 + i;
  // Every start is a new instance id, as a restarted container or pod gets one: a crashed instance's prepared
  // transactions are taken over by the live ones once its lease expires (txkit), not by its own return.
  const starts: number[] = [];
  const startInstance = async (i: number) => {
    starts[i] = (starts[i] ?? 0) + 1;
    const child = spawn(process.execPath, [...nodeArgs, apiServer], {
      env: { ...env, PORT: String(portOf(i)), INSTANCE_ID: `bench-api-${i + 1}-${starts[i]}` },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children[i] = child;
    await waitHealthy(`http://127.0.0.1:${portOf(i)}`, child);
  };
  // One at a time: the first migrates and seeds, the others find it done.
  for (let i = 0; i < instances; i++) await startInstance(i);
  let proxy: HaproxyProcess | undefined;
  if (proxied) {
    const apiServers = Array.from({ length: instances }, (_, i) => `127.0.0.1:${portOf(i)}`);
    proxy = await startHaproxy(
      {
        bind: `127.0.0.1:${options.basePort}`,
        apiServers,
        readModelServers: apiServers.slice(0, 1),
        checks: { interMs: 500, fall: 2, rise: 2 },
      },
      { statsPort: options.basePort + 100 },
    );
  }
  options.log(`e2e: ${note}`);
  const stopChild = async (child: ChildProcess | undefined, signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };
  return {
    baseUrl: proxy?.url ?? `http://127.0.0.1:${portOf(0)}`,
    instances,
    proxied,
    note,
    apiPids: () => children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    proxyPid: () => proxy?.child.pid,
    async crashInstance(index) {
      await stopChild(children[index], 'SIGKILL');
      await startInstance(index);
    },
    async stop() {
      await proxy?.stop();
      for (const child of children) await stopChild(child, 'SIGTERM');
    },
  };
}
