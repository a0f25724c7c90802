import { describe, expect, it } from 'vitest';
import { startBackgroundService } from '../../src/recovery/background-service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startBackgroundService', () => {
  it('never overlaps passes and stop() waits for the pass in progress', async () => {
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    const service = startBackgroundService({
      intervalMs: 1,
      onError: () => {},
      pass: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        running--;
        finished++;
      },
    });
    void service.runNow();
    void service.runNow();
    await sleep(50);
    await service.stop();
    expect(running).toBe(0);
    expect(maxRunning).toBe(1);
    const after = finished;
    await sleep(30);
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
    await sleep(30);
    await service.stop();
    expect(errors).toHaveLength(1);
    expect(calls).toBeGreaterThan(1);
  });
});
