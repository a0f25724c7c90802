import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bookingModes } from '../src/library/modes/index.js';
import { parseScenario } from '../src/scenario/scenario.js';

const known = Object.keys(bookingModes);
const valid = {
  name: 't',
  level: 'library',
  modes: ['local', 'saga'],
  durationSeconds: 1,
  sweeps: [{ contention: ['fresh'], declineRates: [0], concurrency: [1, 2] }],
};

describe('scenario files', () => {
  it('accepts every file in scenarios/ and fills defaults', async () => {
    const dir = new URL('../scenarios/', import.meta.url);
    for (const file of await readdir(dir)) {
      const raw = JSON.parse(await readFile(new URL(file, dir), 'utf8'));
      const known = raw.level === 'e2e' ? ['saga', '2pc'] : Object.keys(bookingModes);
      expect(() => parseScenario(raw, known), file).not.toThrow();
    }
    const s = parseScenario(valid, known);
    expect(s).toMatchObject({ baseline: 'local', rounds: 1, seatCount: 200_000 });
    expect(s.sweeps[0]?.contention).toEqual([{ kind: 'fresh' }]);
  });

  it('rejects a bad file and names every problem', () => {
    const bad = {
      name: '',
      level: 'cluster',
      modes: ['local', 'xa'],
      baseline: 'saga',
      durationSeconds: 0,
      sweeps: [{ contention: ['warm'], declineRates: [20], concurrency: [3] }],
      crash: { modes: ['2pc'], concurrency: 4, killAfterSeconds: 1 },
    };
    let message = '';
    try {
      parseScenario(bad, known);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const expected of [
      "level must be 'library' or 'e2e'",
      'name must be a non-empty string',
      "unknown mode 'xa'",
      "baseline 'saga' must be one of the modes",
      'durationSeconds must be a positive number',
      "unknown contention 'warm'",
      'sweeps[0].declineRates must be a non-empty list of fractions',
      'sweeps[0].concurrency must list values from',
      "crash mode '2pc' is not among the modes",
      'crash.afterRestartSeconds must be a positive number',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('rejects a file without sweeps or that is not an object', () => {
    expect(() => parseScenario([], known)).toThrow(/one JSON object/);
    expect(() => parseScenario({ ...valid, sweeps: [] }, known)).toThrow(/sweeps must be a non-empty list/);
  });
});
