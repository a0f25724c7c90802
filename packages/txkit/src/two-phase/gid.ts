import { randomFillSync } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/**
 * Global transaction ids (gids) of prepared transactions: `tx:<coordinatorId>:<transactionId>:<participant>`.
 *
 * - The coordinator id says whose branch it is: recovery finishes its own coordinator's and those of coordinators
 *   whose lease expired (see `coordinator-lease.ts`).
 * - The participant name makes the gid unique per participant: two participants may be two databases of one
 *   server, and PostgreSQL requires gids to be unique server-wide.
 * - `PREPARE TRANSACTION` takes no bind parameters, so the gid is spliced into SQL. Every piece is restricted
 *   to a strict charset (no quote can appear) and the literal is still escaped, as a second line of defence.
 */

const NAME = /^[A-Za-z0-9_-]{1,40}$/;
/** 16 random bytes in base64url: 22 characters of the same charset. */
const TRANSACTION_ID = /^[A-Za-z0-9_-]{22}$/;
const GID = /^tx:([A-Za-z0-9_-]{1,40}):([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]{1,40})$/;
/** PostgreSQL's limit: the gid must be shorter than 200 bytes. */
const MAX_GID_BYTES = 199;

/** The parts of a gid (what {@link parseGid} returns). */
export interface ParsedGid {
  coordinatorId: string;
  transactionId: string;
  participant: string;
}

/** Throws a {@link ConfigurationError} unless `name` is 1-40 characters of `A-Z a-z 0-9 _ -`. */
export function assertValidName(kind: 'coordinator id' | 'participant name', name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigurationError(
      `invalid ${kind} ${JSON.stringify(name)}: use 1-40 characters of A-Z, a-z, 0-9, '_' and '-'`,
    );
  }
}

/** Ids drawn from one fill of the entropy buffer: one call into the CSPRNG per 256 transactions, not per one. */
const IDS_PER_FILL = 256;
const entropy = Buffer.alloc(16 * IDS_PER_FILL);
let nextId = IDS_PER_FILL;

/** A fresh random transaction id (128 bits, base64url). */
export function newTransactionId(): string {
  if (nextId === IDS_PER_FILL) {
    randomFillSync(entropy);
    nextId = 0;
  }
  const start = 16 * nextId++;
  return entropy.toString('base64url', start, start + 16);
}

/** Whether `id` has the shape of a transaction id made by {@link newTransactionId}. */
export function isTransactionId(id: string): boolean {
  return TRANSACTION_ID.test(id);
}

/**
 * Builds the gid of one participant's branch of a transaction.
 *
 * @example
 * formatGid({ coordinatorId: 'api-1', transactionId: 'hV3b0dFJ7y0mIu9bU3s1xA', participant: 'seats' });
 */
export function formatGid(parts: ParsedGid): string {
  assertValidName('coordinator id', parts.coordinatorId);
  assertValidName('participant name', parts.participant);
  if (!isTransactionId(parts.transactionId)) {
    throw new ConfigurationError(`invalid transaction id ${JSON.stringify(parts.transactionId)}`);
  }
  const gid = `tx:${parts.coordinatorId}:${parts.transactionId}:${parts.participant}`;
  if (Buffer.byteLength(gid, 'utf8') > MAX_GID_BYTES) {
    throw new ConfigurationError(`gid ${gid} is longer than PostgreSQL's 200-byte limit`);
  }
  return gid;
}

/**
 * Parses a gid strictly; anything that is not exactly a txkit gid (someone else's) gives `undefined`.
 *
 * @example
 * parseGid('tx:api-1:hV3b0dFJ7y0mIu9bU3s1xA:seats'); // { coordinatorId: 'api-1', transactionId: ..., participant: 'seats' }
 */
export function parseGid(
  gid: string,
): { coordinatorId: string; transactionId: string; participant: string } | undefined {
  const match = GID.exec(gid);
  if (!match) return undefined;
  return { coordinatorId: match[1]!, transactionId: match[2]!, participant: match[3]! };
}

/** The prefix shared by all gids of one coordinator (or, without an id, of every txkit coordinator). */
export function gidPrefix(coordinatorId?: string): string {
  return coordinatorId === undefined ? 'tx:' : `tx:${coordinatorId}:`;
}
