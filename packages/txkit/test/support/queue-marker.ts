import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { BusMessage, MessageBus, MessageHandler } from '../../src/bus/message-bus.js';

const MARKER_TOPIC = 'txkit-test.marker';

/** The markers each list filled by {@link recordInto} has seen go by (kept out of the list itself). */
const markersSeen = new WeakMap<readonly BusMessage[], Set<string>>();

/**
 * A handler that records what its queue delivers into `into`, except the markers {@link handledUpTo} sends.
 *
 * @example
 * const received: BusMessage[] = [];
 * await bus.subscribe({ queue, topics: ['#'] }, recordInto(received));
 */
export function recordInto(into: BusMessage[]): MessageHandler {
  const markers = new Set<string>();
  markersSeen.set(into, markers);
  return async (message) => {
    if (message.topic === MARKER_TOPIC) markers.add(message.messageId);
    else into.push(message);
  };
}

/**
 * Publishes a marker after everything published so far and waits until it reached each list (their queues must be
 * bound to every topic). A queue hands its messages out in order, and a list records each one as its handler
 * starts: once the marker is there, every message that was in the queue before it has been recorded, so what is
 * missing from a list will not arrive later, and what it holds is final.
 *
 * @example
 * await handledUpTo(bus, deduped);
 * expect(deduped).toHaveLength(10); // no duplicate is still on its way
 */
export async function handledUpTo(bus: MessageBus, ...lists: readonly BusMessage[][]): Promise<void> {
  const messageId = `marker-${randomUUID()}`;
  await bus.publish({ topic: MARKER_TOPIC, messageId, payload: null });
  for (const list of lists) {
    const markers = markersSeen.get(list);
    if (!markers) throw new Error('handledUpTo: the list is not filled by recordInto');
    await expect
      .poll(() => markers.has(messageId), {
        timeout: 10_000,
        message: 'the marker published after the messages never reached the queue',
      })
      .toBe(true);
  }
}
