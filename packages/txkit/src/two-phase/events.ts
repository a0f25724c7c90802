/**
 * Events of {@link TwoPhaseCoordinator}. Each payload is written out here, next to the event, rather than as a
 * type of its own: a handler's parameter is inferred from `coordinator.on(...)`.
 *
 * @example
 * coordinator.on('commit-pending', (e) => log.warn(e, 'commit left to recovery'));
 */
export interface TwoPhaseEvents {
  /**
   * The transaction's branches are prepared and its commit decision comes next. Only transactions with two or
   * more participants prepare.
   */
  prepared: (event: {
    transactionId: string;
    /** The prepared participants (the log participant, when its branch carries the decision, is not prepared). */
    participants: string[];
    /** Their branches' gids, in the same order. */
    gids: string[];
  }) => void;
  /**
   * The transaction committed: its commit decision is durable, or its only participant committed. Branches in
   * `pending` are still prepared (each had a `commit-pending` event first) and recovery commits them.
   */
  committed: (event: {
    transactionId: string;
    participants: string[];
    /** True when only one participant was touched (plain COMMIT, no decision record). */
    onePhase: boolean;
    /** Branches whose COMMIT PREPARED failed and were left to recovery (see `commit-pending`). */
    pending: string[];
    durationMs: number;
  }) => void;
  /**
   * The transaction ended without a commit decision and its branches were rolled back; a prepared branch whose
   * rollback failed is rolled back by recovery (presumed abort).
   */
  aborted: (event: {
    transactionId: string;
    participants: string[];
    /** Why: the callback's error, the failed PREPARE, the timeout, or the fence lost to recovery. */
    error: unknown;
  }) => void;
  /**
   * COMMIT PREPARED of one branch kept failing after the commit decision. The outcome is already commit; the
   * branch stays prepared, holding its locks, until recovery commits it.
   */
  'commit-pending': (event: {
    transactionId: string;
    participant: string;
    gid: string;
    error: unknown;
  }) => void;
  /**
   * A recovery pass finished one in-doubt branch: committed when the decision log holds its transaction's
   * commit decision, rolled back when it holds none and the prepare timeout has passed (presumed abort).
   */
  recovered: (event: {
    gid: string;
    transactionId: string;
    participant: string;
    outcome: 'commit' | 'abort';
    /** The coordinator that prepared the branch. */
    coordinatorId: string;
    /** Whether that coordinator was another one, whose lease had expired (a takeover of a dead instance's work). */
    takeover: boolean;
  }) => void;
  /** A background failure (a recovery pass, a listener): never an unhandled rejection. */
  error: (error: unknown) => void;
}

// The payloads by name, for txkit's own code and tests; not exported by the entries (users get them by
// inference).
export type PreparedEvent = Parameters<TwoPhaseEvents['prepared']>[0];
export type CommittedEvent = Parameters<TwoPhaseEvents['committed']>[0];
export type AbortedEvent = Parameters<TwoPhaseEvents['aborted']>[0];
export type CommitPendingEvent = Parameters<TwoPhaseEvents['commit-pending']>[0];
export type RecoveredEvent = Parameters<TwoPhaseEvents['recovered']>[0];
