import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The package as npm would publish it: `npm pack`, unpacked into a fresh consumer project, imported as ESM and
// as CommonJS, type-checked from both module systems, and its bin run. Catches a broken `files` list, exports
// map or bin that the in-repo tests (which resolve the workspace) would not.
const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const repoModules = fileURLToPath(new URL('../../../../node_modules', import.meta.url));

describe('npm pack of txkit', () => {
  let work: string;
  let files: string[];
  let manifest: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'txkit-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: packageDir });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((f) => f.path);
    const consumer = join(work, 'consumer');
    await mkdir(join(consumer, 'node_modules', 'txkit'), { recursive: true });
    await run('tar', [
      '-xzf',
      join(work, packed!.filename),
      '-C',
      join(consumer, 'node_modules', 'txkit'),
      '--strip-components=1',
    ]);
    manifest = JSON.parse(await readFile(join(consumer, 'node_modules', 'txkit', 'package.json'), 'utf8'));
    // The consumer's own dependencies: the peer (pg) and txkit's dependency, from the repository's install.
    for (const dep of [
      'pg',
      'pg-pool',
      'pg-protocol',
      'pg-types',
      'pg-connection-string',
      'pgpass',
      'pg-int8',
      'postgres-array',
      'postgres-bytea',
      'postgres-date',
      'postgres-interval',
      'split2',
      'xtend',
      'pg-cloudflare',
      'eventemitter3',
      '@types',
    ]) {
      await symlink(join(repoModules, dep), join(consumer, 'node_modules', dep)).catch(() => {});
    }
    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  }, 120_000);
  afterAll(() => (work ? rm(work, { recursive: true, force: true }) : undefined));

  it('holds dist, the migrations, README, CHANGELOG, LICENSE and package.json, and nothing else', () => {
    const outside = files.filter(
      (f) =>
        !/^dist\//.test(f) &&
        !/^sql\/[a-z-]+\/\d{6}_[a-z_]+\.sql$/.test(f) &&
        !['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json'].includes(f),
    );
    expect(outside).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.cjs',
        'dist/cli.js',
      ]),
    );
    expect(files.some((f) => f.startsWith('sql/two-phase/'))).toBe(true);
    expect(files.some((f) => /^(src|test)\//.test(f))).toBe(false);
  });

  it('no development dependency leaks into dependencies', () => {
    const deps = Object.keys(manifest.dependencies ?? {});
    expect(deps).toEqual(['eventemitter3']);
    for (const dev of Object.keys(manifest.devDependencies ?? {})) expect(deps).not.toContain(dev);
  });

  it('loads as ESM and as CommonJS from the packed files', async () => {
    const consumer = join(work, 'consumer');
    await writeFile(
      join(consumer, 'esm.mjs'),
      `import { TwoPhaseCoordinator, saga } from 'txkit';
       import { listPreparedTransactions } from 'txkit/testing';
       console.log(typeof TwoPhaseCoordinator, typeof saga('s').step, typeof listPreparedTransactions);`,
    );
    await writeFile(
      join(consumer, 'cjs.cjs'),
      `const { TwoPhaseCoordinator, saga } = require('txkit');
       const { listPreparedTransactions } = require('txkit/testing');
       console.log(typeof TwoPhaseCoordinator, typeof saga('s').step, typeof listPreparedTransactions);`,
    );
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const { stdout } = await run(process.execPath, [file], { cwd: consumer });
      expect(stdout.trim()).toBe('function function function');
    }
  });

  it('type-checks from an ES module and from a CommonJS module', async () => {
    const consumer = join(work, 'consumer');
    const source = `import { TwoPhaseCoordinator, type SagaOutcome } from 'txkit';
import type { PostgresCluster } from 'txkit/testing';
import pg from 'pg';
const c: TwoPhaseCoordinator = new TwoPhaseCoordinator({ id: 'x', participants: { a: new pg.Pool() }, log: new pg.Pool() });
const o: SagaOutcome | undefined = undefined;
const p: PostgresCluster | undefined = undefined;
void c; void o; void p;
`;
    await writeFile(join(consumer, 'esm.mts'), source);
    await writeFile(join(consumer, 'cjs.cts'), source);
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: [],
          esModuleInterop: true,
          skipLibCheck: false,
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = join(repoModules, 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
    );
    expect(result.stdout).toBe('');
  });

  it('installs a working txkit bin', async () => {
    const bin = join(work, 'consumer', 'node_modules', 'txkit', 'dist', 'cli.js');
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node')).toBe(true);
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toContain('Usage: txkit <command>');
  });
});
