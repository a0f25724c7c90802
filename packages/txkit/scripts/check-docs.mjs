// @ts-check
/**
 * `npm run docs:check` (part of `npm test`): fails when TypeDoc warns (typedoc.jsonc treats warnings as errors)
 * or when the committed docs/api is not what the current sources generate. It generates into a temporary
 * folder and compares, so it never touches docs/api itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const committed = join(packageDir, '../../docs/api');
const regenerate = 'run `npm run docs -w txkit` and commit docs/api';

/** @returns {string | undefined} why the check fails */
function check(/** @type {string} */ fresh) {
  // TypeDoc prints its warnings (as errors) itself, and then writes nothing.
  const typedoc = spawnSync('npx', ['--no', '--', 'typedoc', '--out', fresh, '--logLevel', 'Warn'], {
    cwd: packageDir,
    stdio: 'inherit',
  });
  if (typedoc.error) throw typedoc.error;
  if (typedoc.status !== 0) return `TypeDoc failed (see above): fix the doc comments, then ${regenerate}`;
  const diff = spawnSync('diff', ['-r', '-q', fresh, committed], { encoding: 'utf8' });
  if (diff.error) throw diff.error;
  if (diff.status === 0) return undefined;
  // Status 1: files differ; 2: trouble, such as docs/api missing. Either way, regenerating fixes it.
  const differences = diff.stdout.split('\n').filter(Boolean).length;
  return `docs/api is stale (${differences} file(s) differ from what the sources generate): ${regenerate}`;
}

const fresh = mkdtempSync(join(tmpdir(), 'txkit-docs-'));
try {
  const failure = check(fresh);
  if (failure) {
    console.error(`docs:check: ${failure}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
