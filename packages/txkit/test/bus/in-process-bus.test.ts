import { describe, expect, it } from 'vitest';
import { dropDuplicates, seenInMemory } from '../../src/bus/dedupe.js';
import { InProcessBus } from '../../src/bus/in-process-bus.js';
import { MalformedMessageError } from '../../src/bus/malformed-message-error.js';
import { type BusMessage, topicMatches } from '../../src/bus/message-bus.js';

describe('topicMatches', () => {
  it.each([
    ['seat.booked', 'seat.booked', true],
    ['seat.*', 'seat.booked', true],
    ['seat.*', 'seat.booked.vip', false],
    ['seat.#', 'seat', true],
    ['seat.#', 'seat.booked.vip', true],
    ['#', 'anything.at.all', true],
    ['*.booked', 'seat.booked', true],
    ['*.booked', 'booked', false],
    ['#.vip', 'seat.booked.vip', true],
    ['seat.booked', 'seat.released', false],
  ])('%s matches %s: %s', (pattern, topic, expected) => {
    expect(topicMatches(pattern, topic)).toBe(expected);
  });
});

describe('InProcessBus', () => {
  const message = (n: number, topic = 'seat.booked') => ({
    topic,
    messageId: `m${n}`,
    key: 'k',
    payload: { n, at: new Date(0) },
  });

  it('routes by topic, gives each queue a copy and keeps messages while nobody consumes', async () => {
    const bus = new InProcessBus();
    const seats: BusMessage[] = [];
    const all: BusMessage[] = [];
    await bus.subscribe({ queue: 'seats', topics: ['seat.*'] }, async (m) => {
      seats.push(m);
    });
    await bus.subscribe({ queue: 'all', topics: ['#'] }, async (m) => {
      all.push(m);
    });
    await bus.publish(message(1));
    await bus.publish(message(2, 'payment.refunded'));
    await expect.poll(() => all.length).toBe(2);
    expect(seats.map((m) => m.messageId)).toEqual(['m1']);
    // Copied as JSON would carry it over the wire.
    expect(seats[0]?.payload).toEqual({ n: 1, at: '1970-01-01T00:00:00.000Z' });

    const late = bus.subscribe({ queue: 'late', topics: ['#'] }, async () => {});
    await (await late).cancel();
    await bus.publish(message(3));
    expect(bus.waitingCount('late')).toBe(1);
  });

  it('lets the subscribers of one queue compete, under their prefetch', async () => {
    const bus = new InProcessBus();
    const byConsumer: Record<string, number[]> = { a: [], b: [] };
    let running = 0;
    let maxRunning = 0;
    for (const name of ['a', 'b'] as const) {
      await bus.subscribe({ queue: 'work', topics: ['#'], prefetch: 2 }, async (m) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        byConsumer[name]!.push((m.payload as { n: number }).n);
        running--;
      });
    }
    for (let n = 0; n < 20; n++) await bus.publish(message(n));
    await expect.poll(() => byConsumer.a!.length + byConsumer.b!.length).toBe(20);
    expect(byConsumer.a!.length).toBeGreaterThan(0);
    expect(byConsumer.b!.length).toBeGreaterThan(0);
    expect(maxRunning).toBeLessThanOrEqual(4);
  });

  it('redelivers a message whose handler failed, flagged as redelivered, and reports the failure', async () => {
    const bus = new InProcessBus({ redeliveryDelayMs: 5 });
    const errors: unknown[] = [];
    bus.on('error', (error) => errors.push(error));
    const deliveries: BusMessage[] = [];
    await bus.subscribe({ queue: 'flaky', topics: ['#'] }, async (m) => {
      deliveries.push(m);
      if (deliveries.length === 1) throw new Error('database down');
    });
    await bus.publish(message(1));
    await expect.poll(() => deliveries.length).toBe(2);
    expect(deliveries.map((m) => m.redelivered)).toEqual([false, true]);
    expect(errors).toHaveLength(1);
  });

  it('sets a message aside as a dead letter after maxDeliveries failed deliveries, and goes on with the next', async () => {
    const bus = new InProcessBus({ redeliveryDelayMs: 2, maxDeliveries: 3 });
    const dead: [string, string][] = [];
    bus.on('error', () => {});
    bus.on('deadLettered', (queue, m) => dead.push([queue, m.messageId]));
    const attempts = new Map<string, number>();
    await bus.subscribe({ queue: 'poisoned', topics: ['#'], prefetch: 1 }, async (m) => {
      attempts.set(m.messageId, (attempts.get(m.messageId) ?? 0) + 1);
      if (m.messageId === 'm1') throw new Error('cannot handle this one');
    });
    await bus.publish(message(1));
    await bus.publish(message(2));
    await expect.poll(() => attempts.get('m2')).toBe(1);
    expect(attempts.get('m1')).toBe(3);
    expect(dead).toEqual([['poisoned', 'm1']]);
    expect(bus.deadLetters('poisoned').map((m) => m.messageId)).toEqual(['m1']);
    expect(bus.waitingCount('poisoned')).toBe(0);
  });

  it('sets a message its handler calls malformed aside at its first delivery', async () => {
    const bus = new InProcessBus({ redeliveryDelayMs: 2 });
    bus.on('error', () => {});
    let deliveries = 0;
    await bus.subscribe({ queue: 'strict', topics: ['#'] }, async () => {
      deliveries++;
      throw new MalformedMessageError('not a seat event');
    });
    await bus.publish(message(1));
    await expect.poll(() => bus.deadLetters('strict').length).toBe(1);
    expect(deliveries).toBe(1);
  });
});

describe('dropDuplicates', () => {
  it('handles a message id once, and again after its handler failed', async () => {
    const handled: string[] = [];
    const duplicates: string[] = [];
    let fail = true;
    const handler = dropDuplicates(
      async (m: BusMessage) => {
        if (m.messageId === 'x' && fail) {
          fail = false;
          throw new Error('transient');
        }
        handled.push(m.messageId);
      },
      seenInMemory(2),
      (m) => duplicates.push(m.messageId),
    );
    const msg = (id: string): BusMessage => ({
      topic: 't',
      messageId: id,
      key: null,
      payload: null,
      headers: {},
      redelivered: false,
    });
    await expect(handler(msg('x'))).rejects.toThrow('transient');
    await handler(msg('x'));
    await handler(msg('x'));
    await handler(msg('y'));
    await handler(msg('y'));
    expect(handled).toEqual(['x', 'y']);
    expect(duplicates).toEqual(['x', 'y']);
    // Capacity 2: the oldest id is forgotten once a third arrives.
    await handler(msg('z'));
    await handler(msg('x'));
    expect(handled).toEqual(['x', 'y', 'z', 'x']);
  });
});
