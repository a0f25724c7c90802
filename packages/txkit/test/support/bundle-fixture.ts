import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** A test fixture bundled into one CommonJS file that a child `node` process can run. */
export interface BundledFixture {
  /** Path of the bundle, to pass to `spawn(process.execPath, [file, ...])`. */
  file: string;
  /** Deletes the bundle's temporary folder. */
  remove(): Promise<void>;
}

/**
 * Bundles a TypeScript fixture (and the library source it imports, with `.sql` migrations as text) so that a crash
 * test can run it in a child process and kill that process for real.
 *
 * @example
 * const fixture = await bundleFixture(new URL('./fixtures/doomed-coordinator.ts', import.meta.url));
 * const child = spawn(process.execPath, [fixture.file, JSON.stringify(config)]);
 */
export async function bundleFixture(entry: URL): Promise<BundledFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'txkit-fixture-'));
  const file = join(dir, 'fixture.cjs');
  await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: file,
    loader: { '.sql': 'text' },
    // Optional backends of pg that the fixtures never load.
    external: ['pg-native', 'pg-cloudflare', 'cloudflare:sockets'],
    logLevel: 'silent',
  });
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}
