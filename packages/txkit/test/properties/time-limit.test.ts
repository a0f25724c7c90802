import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertProperty } from './support/runs.js';
import { sleep } from './support/world.js';

// The soak's time limit (`scripts/soak.mjs --minutes`): fast-check abandons the run in progress when the limit
// passes, and that run went on in the background while the suite's teardown dropped its databases ("Cannot use
// a pool after calling end on the pool", vitest exit 1). assertProperty returns only once that run has ended.

const RUN_MS = 300;
let previous: string | undefined;

beforeEach(() => {
  previous = process.env.TXKIT_PROPERTY_TIME_LIMIT_MS;
  // The limit passes during the second run.
  process.env.TXKIT_PROPERTY_TIME_LIMIT_MS = String(Math.round(RUN_MS * 1.5));
});
afterEach(() => {
  if (previous === undefined) delete process.env.TXKIT_PROPERTY_TIME_LIMIT_MS;
  else process.env.TXKIT_PROPERTY_TIME_LIMIT_MS = previous;
});

describe('a time-limited property', () => {
  it('returns once the run in progress at the limit has ended, the runs done being the result', async () => {
    let inProgress = 0;
    let ended = 0;
    await assertProperty(
      'slow runs',
      fc.asyncProperty(fc.nat(), async () => {
        inProgress += 1;
        await sleep(RUN_MS);
        inProgress -= 1;
        ended += 1;
      }),
      1_000,
    );
    expect(inProgress).toBe(0);
    expect(ended).toBe(2);
  });

  it('reports a failure of the run in progress at the limit, with the seed and path that replay it', async () => {
    let started = 0;
    const failing = assertProperty(
      'fails after the limit',
      fc.asyncProperty(fc.nat(), async () => {
        started += 1;
        const nth = started;
        await sleep(RUN_MS);
        if (nth === 2) throw new Error('the second run fails');
      }),
      1_000,
    );
    await expect(failing).rejects.toThrow(
      /run in progress at the time limit failed \(replay: TXKIT_PROPERTY_SEED=-?\d+ TXKIT_PROPERTY_PATH=1\):\nthe second run fails/,
    );
  });
});
