import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// Runs against the built package (`dist`), as a user would load it, to catch broken exports maps and bundles.
const require = createRequire(import.meta.url);

describe('published package', () => {
  it('loads the root entry as ESM and CJS with the same public names', async () => {
    const esm = await import('txkit');
    const cjs = require('txkit') as Record<string, unknown>;
    expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
    expect(esm.TxkitError).toBeTypeOf('function');
    expect(new esm.RetryableError('x').code).toBe('RETRYABLE');
    // The root entry is the essentials; messaging and test tooling have entries of their own (issue 23).
    expect(Object.keys(esm).length).toBeLessThanOrEqual(60);
  });

  it('isTxkitError recognises an error of another copy of txkit, where instanceof cannot', async () => {
    // The ESM and CommonJS builds are two copies of every class, as two installed versions would be.
    const esm = await import('txkit');
    const cjs = require('txkit') as typeof esm;
    const fromOtherCopy = new cjs.InDoubtError('decided elsewhere');
    expect(fromOtherCopy instanceof esm.TxkitError).toBe(false);
    expect(esm.isTxkitError(fromOtherCopy)).toBe(true);
    expect(cjs.isTxkitError(new esm.RetryableError('x'))).toBe(true);
  });

  it.each(['txkit/outbox', 'txkit/amqp'])(
    'loads %s as ESM and CJS with the same public names',
    async (entry) => {
      const esm = (await import(entry)) as Record<string, unknown>;
      const cjs = require(entry) as Record<string, unknown>;
      expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
      expect(Object.keys(esm).length).toBeGreaterThan(0);
    },
  );

  it('loads txkit/testing as ESM and CJS', async () => {
    const esm = await import('txkit/testing');
    const cjs = require('txkit/testing') as Record<string, unknown>;
    expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
    expect(esm.startPostgresCluster).toBeTypeOf('function');
  });
});
