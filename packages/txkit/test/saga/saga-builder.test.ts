import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { type SagaDefinition, saga } from '../../src/index.js';

describe('saga builder', () => {
  it('is immutable: each step returns a new builder and build() freezes the definition', () => {
    const base = saga<{ n: number }>('s').step('a', { run: () => 1 });
    const withB = base.step('b', { run: (ctx) => ctx.outputs.a + 1 });
    const withC = base.step('c', { run: () => 'c' });
    expect(base.build().steps.map((s) => s.name)).toEqual(['a']);
    expect(withB.build().steps.map((s) => s.name)).toEqual(['a', 'b']);
    expect(withC.build().steps.map((s) => s.name)).toEqual(['a', 'c']);
    const definition = withB.build();
    expect(Object.isFrozen(definition)).toBe(true);
    expect(Object.isFrozen(definition.steps)).toBe(true);
    expect(Object.isFrozen(definition.steps[0])).toBe(true);
    expect(() => {
      (definition.steps as unknown as unknown[]).push({});
    }).toThrow(TypeError);
  });

  it('types the outputs of earlier steps on ctx and in the definition', () => {
    const definition = saga<{ amount: number }>('typed')
      .step('reserve', { run: async () => ({ seat: 'A1' }) })
      .step('charge', {
        run: async (ctx) => {
          expectTypeOf(ctx.outputs.reserve).toEqualTypeOf<{ seat: string }>();
          expectTypeOf(ctx.input).toEqualTypeOf<{ amount: number }>();
          return ctx.input.amount;
        },
        compensate: async (ctx) => {
          expectTypeOf(ctx.output).toEqualTypeOf<number | undefined>();
        },
      })
      .build();
    expectTypeOf(definition).toEqualTypeOf<
      SagaDefinition<{ amount: number }, { reserve: { seat: string }; charge: number }>
    >();
  });

  it('rejects duplicate step names, bad names, empty sagas and bad options', () => {
    const builder = saga('dup').step('a', { run: () => 1 });
    // @ts-expect-error a step name may be used once
    expect(() => builder.step('a', { run: () => 2 })).toThrow(ConfigurationError);
    expect(() => saga('x').step('has space', { run: () => 1 })).toThrow(ConfigurationError);
    expect(() => saga('bad name')).toThrow(ConfigurationError);
    expect(() => saga('empty').build()).toThrow(ConfigurationError);
    expect(() => saga('t').step('a', { run: () => 1, timeoutMs: 0 })).toThrow(ConfigurationError);
    expect(() => saga('t').step('a', { run: () => 1, retry: { maxAttempts: 0 } })).toThrow(RangeError);
  });

  it('fills retry policies from defaults', () => {
    const [step] = saga('r')
      .step('a', { run: () => 1, retry: { maxAttempts: 7 } })
      .build().steps;
    expect(step?.retry.maxAttempts).toBe(7);
    expect(step?.retry.initialDelayMs).toBeGreaterThan(0);
    expect(step?.compensationRetry.maxAttempts).toBeGreaterThan(1);
  });
});
