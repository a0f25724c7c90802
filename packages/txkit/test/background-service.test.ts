import { describe, expect, it } from 'vitest';
import { startBackgroundService } from '../src/background-service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startBackgroundService', () => {
  it('never overlaps passes and stop() waits for the pass in progress', async () => {
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    // While set, a pass runs until the test lets it end.
    let hold: Promise<void> | undefined;
    const service = startBackgroundService({
      intervalMs: 1,
      onError: () => {},
      pass: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await (hold ?? sleep(20));
        running--;
        finished++;
      },
    });
    // Two passes asked for at once, besides the timer's: they run one after another.
    await Promise.all([service.runNow(), service.runNow()]);
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(maxRunning).toBe(1);

    let release: () => void = () => {};
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    void service.runNow();
    await expect.poll(() => running, { timeout: 10_000 }).toBe(1);
    let stopped = false;
    const stopping = service.stop().then(() => {
      stopped = true;
    });
    // A full turn of the event loop: past anything stop() could resolve by without waiting for the pass.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(running).toBe(0);
    expect(maxRunning).toBe(1);

    // A second service on the same 1 ms interval paces the check: after three of its passes, the stopped one
    // would have run again had its timer not been cleared.
    const after = finished;
    let paced = 0;
    const pacer = startBackgroundService({
      intervalMs: 1,
      onError: () => {},
      pass: async () => {
        paced++;
      },
    });
    try {
      await expect.poll(() => paced, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    } finally {
      await pacer.stop();
    }
    expect(finished).toBe(after);
  });

  it('reports a failing pass through onError and keeps going', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const service = startBackgroundService({
      intervalMs: 1,
      onError: (e) => errors.push(e),
      pass: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    await expect.poll(() => calls, { timeout: 10_000 }).toBeGreaterThan(1);
    await service.stop();
    expect(errors).toHaveLength(1);
    expect(calls).toBeGreaterThan(1);
  });
});
