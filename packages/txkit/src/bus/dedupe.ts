import type { BusMessage, MessageHandler } from './message-bus.js';

/**
 * Remembers which message ids were handled.
 *
 * @example
 * const seen: SeenMessages = {
 *   markSeen: async (id) => (await redis.set(`seen:${id}`, '1', 'EX', 86_400, 'NX')) === 'OK',
 *   forget: async (id) => void (await redis.del(`seen:${id}`)),
 * };
 */
export interface SeenMessages {
  /** Records `messageId`; resolves `true` the first time, `false` for a duplicate. */
  markSeen(messageId: string): boolean | Promise<boolean>;
  /** Forgets `messageId` (its handler failed, so a redelivery must run it again). */
  forget(messageId: string): void | Promise<void>;
}

/**
 * Message ids held in memory, the oldest dropped beyond `capacity`. Enough against the duplicates of
 * at-least-once delivery, which arrive close together; not across restarts (use the Postgres inbox for that).
 *
 * @example
 * const seen = seenInMemory(50_000);
 */
export function seenInMemory(capacity = 10_000): SeenMessages {
  const ids = new Set<string>();
  return {
    markSeen(messageId) {
      if (ids.has(messageId)) return false;
      ids.add(messageId);
      // A Set iterates in insertion order: the first entry is the oldest.
      if (ids.size > capacity) ids.delete(ids.values().next().value as string);
      return true;
    },
    forget(messageId) {
      ids.delete(messageId);
    },
  };
}

/**
 * Wraps a handler so that a message id it already handled is acknowledged and dropped. Delivery is
 * at-least-once (a relay re-publishes what it could not mark sent, a broker redelivers unacked messages), and
 * the stable message id is what makes the duplicates recognisable.
 *
 * @example
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.#'] }, dropDuplicates(apply, seenInMemory()));
 */
export function dropDuplicates<T>(
  handler: MessageHandler<T>,
  seen: SeenMessages = seenInMemory(),
  onDuplicate?: (message: BusMessage<T>) => void,
): MessageHandler<T> {
  return async (message) => {
    if (!(await seen.markSeen(message.messageId))) {
      onDuplicate?.(message);
      return;
    }
    try {
      await handler(message);
    } catch (error) {
      await seen.forget(message.messageId);
      throw error;
    }
  };
}
