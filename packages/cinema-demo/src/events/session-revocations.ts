import { randomUUID } from 'node:crypto';
import { MalformedMessageError, type MessageBus, type Subscription } from 'txkit/outbox';

/** The topic of a sign-out, for the other instances' session caches. */
export const SESSION_REVOKED_TOPIC = 'session.revoked';

/**
 * Prefix of the instances' revocation queues: each instance needs a queue of its own (consumers of one queue
 * compete for its messages), named after its instance id so that a restart reuses it.
 */
export const SESSIONS_QUEUE = 'cinema.sessions';

/** A revoked session's token hash (hex SHA-256: the key of the sessions table, not the token). */
interface SessionRevoked {
  tokenHash: string;
}

function isSessionRevoked(payload: unknown): payload is SessionRevoked {
  const hash = (payload as { tokenHash?: unknown } | null)?.tokenHash;
  return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash);
}

/**
 * Announces sign-outs on the bus, straight from the request (not through the outbox: a lost announcement only
 * keeps a revoked token usable on other instances until their cache entry runs out, which the cache's TTL bounds).
 * A failed publish is reported, never the sign-out's failure.
 *
 * @example
 * const sessions = new SessionStore(dbs.seats, 3600, { cache, onRevoked: announceRevocations(bus, log.warn) });
 */
export function announceRevocations(
  bus: MessageBus,
  onError: (error: unknown) => void,
): (tokenHash: string) => void {
  return (tokenHash) => {
    const payload: SessionRevoked = { tokenHash };
    bus.publish({ topic: SESSION_REVOKED_TOPIC, messageId: randomUUID(), payload }).catch(onError);
  };
}

/**
 * Drops the sessions other instances revoked from this instance's cache. A message that is not a revocation is
 * dead-lettered at once (delivering it again would never help).
 *
 * @example
 * const subscription = await followRevocations(bus, `${SESSIONS_QUEUE}.${instanceId}`, (h) => sessions.forget(h));
 */
export function followRevocations(
  bus: MessageBus,
  queue: string,
  forget: (tokenHash: string) => void,
): Promise<Subscription> {
  return bus.subscribe({ queue, topics: [SESSION_REVOKED_TOPIC] }, async (m) => {
    if (!isSessionRevoked(m.payload)) {
      throw new MalformedMessageError(`message ${m.messageId} on ${m.topic} is not a session revocation`);
    }
    forget(m.payload.tokenHash);
  });
}
