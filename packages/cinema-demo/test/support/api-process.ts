import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { watchChild } from '../../src/deploy/watched-child.js';
import { freePort } from './free-port.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The API server (`src/api-server.ts`) bundled for child processes, and how to delete the bundle. */
export interface ApiBundle {
  file: string;
  remove(): Promise<void>;
}

/**
 * Bundles `src/api-server.ts` as the build does (migrations as text) so that a test can run real API processes
 * and kill them. The bundle lives under the package's `node_modules/.cache`, so that its dependencies (kept
 * external) resolve exactly as the package's own imports do, `txkit` included.
 */
export async function bundleApiServer(): Promise<ApiBundle> {
  const dir = join(packageRoot, 'node_modules', '.cache', `api-process-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'api-server.mjs');
  await build({
    entryPoints: [join(packageRoot, 'src', 'api-server.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: file,
    loader: { '.sql': 'text' },
    logLevel: 'silent',
  });
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** One running API process. */
export interface ApiProcess {
  url: string;
  instanceId: string;
  child: ChildProcess;
  /** Everything it wrote to stderr and stdout (pino's JSON lines), for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown code runs, the kernel closes its connections. Resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (its graceful shutdown), then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts the bundled API server with `env` and resolves once `/healthz` answers, or fails with its output when
 * it exits or is not healthy within `startTimeoutMs`.
 */
export async function startApiProcess(
  bundle: ApiBundle,
  options: { instanceId: string; env: Record<string, string>; startTimeoutMs?: number },
): Promise<ApiProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [bundle.file], {
    cwd: packageRoot,
    env: { ...process.env, ...options.env, PORT: String(port), INSTANCE_ID: options.instanceId },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, running, exited } = watchChild(child);
  const api: ApiProcess = {
    url,
    instanceId: options.instanceId,
    child,
    output,
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (!running()) throw new Error(`API ${options.instanceId} exited during start-up:\n${output()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return api;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await api.kill();
      throw new Error(
        `API ${options.instanceId} not healthy after ${options.startTimeoutMs ?? 60_000} ms:\n${output()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
