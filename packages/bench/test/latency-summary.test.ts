import { describe, expect, it } from 'vitest';
import { summariseLatencies } from '../src/stats/latency-summary.js';

describe('summariseLatencies', () => {
  it('uses nearest-rank percentiles', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summariseLatencies(samples)).toMatchObject({
      count: 100,
      p50: 50,
      p90: 90,
      p99: 99,
      max: 100,
      mean: 50.5,
    });
  });
  it('is all zeros without samples', () => {
    expect(summariseLatencies([]).p99).toBe(0);
  });
});
