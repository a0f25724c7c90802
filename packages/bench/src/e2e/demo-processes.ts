import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const apiServer = fileURLToPath(new URL('../../../cinema-demo/dist/api-server.js', import.meta.url));

/** The demo's API processes (and HAProxy in front of them when installed) that an e2e cell drives. */
export interface DemoDeployment {
  /** Where the load goes: HAProxy's port, or the single instance's. */
  baseUrl: string;
  instances: number;
  proxied: boolean;
  /** Why the deployment is what it is (e.g. "HAProxy not installed: one instance, no proxy"). */
  note: string;
  /** Process ids of the running API instances (for the CPU meter). */
  apiPids(): number[];
  /** kill -9 of one API instance, then a restart of it on the same port under a new id (crash injection). */
  crashInstance(index: number): Promise<void>;
  stop(): Promise<void>;
}

function haproxyInstalled(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
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
 * databases, and HAProxy round-robin in front of them when HAProxy is installed; without it, one instance and
 * no proxy (the note says so). Payment declines are the demo's own failure injection (`PAYMENT_DECLINE_RATE`).
 */
export async function startDemo(options: {
  urls: string[];
  instances: number;
  declineRate: number;
  basePort: number;
  log: (line: string) => void;
}): Promise<DemoDeployment> {
  const proxied = options.instances > 1 && haproxyInstalled();
  const instances = proxied ? options.instances : 1;
  const note = proxied
    ? `${instances} API instances behind HAProxy (round robin)`
    : options.instances > 1
      ? 'HAProxy not installed: one API instance, no proxy'
      : 'one API instance, no proxy';
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
  };
  const children: ChildProcess[] = [];
  // Every start is a new instance id, as a restarted container or pod gets one: a crashed instance's prepared
  // transactions are taken over by the live ones once its lease expires (txkit), not by its own return.
  const starts: number[] = [];
  const startInstance = async (i: number) => {
    const port = options.basePort + 1 + i;
    starts[i] = (starts[i] ?? 0) + 1;
    const child = spawn(process.execPath, [apiServer], {
      env: { ...env, PORT: String(port), INSTANCE_ID: `bench-api-${i + 1}-${starts[i]}` },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children[i] = child;
    await waitHealthy(`http://127.0.0.1:${port}`, child);
  };
  // One at a time: the first migrates and seeds, the others find it done.
  for (let i = 0; i < instances; i++) await startInstance(i);
  let proxy: ChildProcess | undefined;
  if (proxied) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-haproxy-'));
    const cfg = join(dir, 'haproxy.cfg');
    const servers = Array.from(
      { length: instances },
      (_, i) => `  server api${i + 1} 127.0.0.1:${options.basePort + 1 + i} check inter 500ms fall 1 rise 1`,
    ).join('\n');
    await writeFile(
      cfg,
      `global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n` +
        `  retries 2\n  option redispatch\nfrontend bench\n  bind 127.0.0.1:${options.basePort}\n  default_backend api\n` +
        `backend api\n  balance roundrobin\n  option httpchk GET /healthz\n${servers}\n`,
    );
    proxy = spawn('haproxy', ['-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitHealthy(`http://127.0.0.1:${options.basePort}`, proxy);
  }
  options.log(`e2e: ${note}`);
  const stopChild = async (child: ChildProcess | undefined, signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };
  return {
    baseUrl: `http://127.0.0.1:${proxied ? options.basePort : options.basePort + 1}`,
    instances,
    proxied,
    note,
    apiPids: () => children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    async crashInstance(index) {
      await stopChild(children[index], 'SIGKILL');
      await startInstance(index);
    },
    async stop() {
      await stopChild(proxy, 'SIGTERM');
      for (const child of children) await stopChild(child, 'SIGTERM');
    },
  };
}
