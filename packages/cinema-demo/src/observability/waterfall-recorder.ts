import type {
  SagaRunner,
  SerializedError,
  TransactionOptions,
  TwoPhaseCoordinator,
  TwoPhaseTransaction,
} from 'txkit';
import type { WaterfallBar, WaterfallData } from '../booking/booking-waterfall.js';
import { bookingOfKey } from '../booking/saga-monitor.js';

/** Epoch milliseconds with sub-millisecond precision (bars of a fast 2PC are a few ms long). */
const now = () => performance.timeOrigin + performance.now();
const round = (ms: number) => Math.round(ms * 100) / 100;

/** Transactions followed at once; beyond, the oldest is forgotten (a run whose end never came: a crash). */
const MAX_OPEN = 1_000;

interface Query {
  participant: string;
  start: number;
  end: number;
  failed: boolean;
}

interface Run {
  /** Empty until the saga says whose it is (`saga:started`). */
  bookingId: string;
  run: WaterfallData['run'];
  protocol: WaterfallData['protocol'];
  start: number;
  bars: WaterfallBar[];
  /** Saga: attempts started and not ended yet, by kind, step and attempt. */
  open: Map<string, number>;
  /** 2PC: the statements of the callback, by participant, in order. */
  queries: Query[];
  callbackEnd?: number;
  preparedAt?: number;
  prepared?: string[];
}

export interface WaterfallRecorderOptions {
  runner: SagaRunner;
  coordinator: TwoPhaseCoordinator;
  /** The booking's and the cancellation's saga names (their keys are `<bookingId>` and `cancel:<bookingId>…`). */
  sagaNames: { book: string; cancel: string };
  /** The database each saga step runs in: its lane. */
  laneOfStep: Record<string, string>;
  /** Called once per finished transaction; must not block (the store queues it). */
  onRecorded: (bookingId: string, data: WaterfallData) => void;
}

/**
 * Times each booking's and cancellation's transaction from txkit's events and the 2PC branches' statements,
 * and hands the finished timing ({@link WaterfallData}) to `onRecorded`. Events, not spans: the timeline must work
 * without an OpenTelemetry SDK, and the SDK's cost is paid only when traces are exported. What a saga run gives:
 * each step and compensation attempt with its database; what a 2PC gives: each participant's statements, then the
 * coordinator's prepare and commit (or rollback) phases. A saga resumed here after it started elsewhere (a dead
 * instance's) is not timed: its timeline falls back to the saga log.
 *
 * @example
 * const recorder = new WaterfallRecorder({ runner, coordinator, sagaNames, laneOfStep, onRecorded: store.add });
 * await recorder.timing(coordinator).transaction(async (tx) => { recorder.linkTransaction(tx.id, id, 'booking'); ... });
 */
export class WaterfallRecorder {
  readonly #runs = new Map<string, Run>();
  readonly #o: WaterfallRecorderOptions;

  constructor(o: WaterfallRecorderOptions) {
    this.#o = o;
    const { runner, coordinator } = o;
    // `saga:started` comes when the saga's insert has committed — with its first local step, after that step's
    // `step:started`: a saga's run is opened by its first event, and says whose it is when it has started.
    runner.on('saga:started', (e) => {
      const run =
        e.name === o.sagaNames.book ? 'booking' : e.name === o.sagaNames.cancel ? 'cancellation' : undefined;
      const bookingId = bookingOfKey(e.key)?.bookingId;
      if (!run || !bookingId) return void this.#runs.delete(e.sagaId);
      const open = this.#sagaRun(e.sagaId);
      open.bookingId = bookingId;
      open.run = run;
    });
    runner.on('step:started', (e) => this.#attemptStarted(e.sagaId, 'step', e.step, e.attempt));
    runner.on('step:completed', (e) => this.#attemptEnded(e.sagaId, 'step', e.step, e.attempt));
    runner.on('step:retrying', (e) =>
      this.#attemptEnded(e.sagaId, 'step', e.step, e.attempt, errorText(e.error)),
    );
    runner.on('step:failed', (e) =>
      this.#attemptEnded(e.sagaId, 'step', e.step, e.attempt, `${e.reason}: ${e.error.message}`),
    );
    runner.on('compensation:started', (e) =>
      this.#attemptStarted(e.sagaId, 'compensation', e.step, e.attempt),
    );
    runner.on('compensation:completed', (e) =>
      this.#attemptEnded(e.sagaId, 'compensation', e.step, e.attempt),
    );
    runner.on('compensation:retrying', (e) =>
      this.#attemptEnded(e.sagaId, 'compensation', e.step, e.attempt, errorText(e.error)),
    );
    runner.on('saga:completed', (e) => this.#sagaEnded(e.sagaId, e.name, 'completed'));
    runner.on('saga:compensated', (e) => this.#sagaEnded(e.sagaId, e.name, `compensated: ${e.reason}`));
    runner.on('saga:failed', (e) =>
      this.#sagaEnded(e.sagaId, e.name, `failed: ${e.compensation.step} gave up`),
    );
    runner.on('saga:lease-lost', (e) => this.#runs.delete(e.sagaId));
    coordinator.on('prepared', (e) => {
      const run = this.#runs.get(e.transactionId);
      if (!run) return;
      run.preparedAt = now();
      run.prepared = e.participants;
    });
    coordinator.on('committed', (e) =>
      this.#twoPhaseEnded(e.transactionId, e.pending.length > 0 ? 'committed (commit pending)' : 'committed'),
    );
    coordinator.on('aborted', (e) => this.#twoPhaseEnded(e.transactionId, 'aborted'));
  }

  /** Says which booking a 2PC transaction belongs to (called at the start of its callback). */
  linkTransaction(transactionId: string, bookingId: string, run: WaterfallData['run']): void {
    this.#open(transactionId, bookingId, run, '2pc');
  }

  /**
   * The coordinator's `transaction` with each transaction's statements timed per participant and its callback's
   * end noted (where the coordinator's prepare phase starts). Only linked transactions are kept.
   */
  timing(coordinator: TwoPhaseCoordinator): Pick<TwoPhaseCoordinator, 'transaction'> {
    return {
      transaction: <T>(work: (tx: TwoPhaseTransaction) => Promise<T>, options?: TransactionOptions) =>
        coordinator.transaction(async (tx) => {
          try {
            return await work(this.#timed(tx));
          } finally {
            const run = this.#runs.get(tx.id);
            if (run) run.callbackEnd = now();
          }
        }, options),
    };
  }

  #timed(tx: TwoPhaseTransaction): TwoPhaseTransaction {
    return {
      id: tx.id,
      query: async (participant, text, values) => {
        const run = this.#runs.get(tx.id);
        const query: Query = { participant, start: now(), end: 0, failed: false };
        try {
          return await tx.query(participant, text, values);
        } catch (error) {
          query.failed = true;
          throw error;
        } finally {
          query.end = now();
          run?.queries.push(query);
        }
      },
    };
  }

  #open(id: string, bookingId: string, run: Run['run'], protocol: Run['protocol']): Run {
    const opened: Run = { bookingId, run, protocol, start: now(), bars: [], open: new Map(), queries: [] };
    this.#runs.set(id, opened);
    if (this.#runs.size > MAX_OPEN) this.#runs.delete(this.#runs.keys().next().value as string);
    return opened;
  }

  /** The saga's run, opened now if this is its first event. */
  #sagaRun(sagaId: string): Run {
    return this.#runs.get(sagaId) ?? this.#open(sagaId, '', 'booking', 'saga');
  }

  #attemptStarted(sagaId: string, kind: 'step' | 'compensation', step: string, attempt: number): void {
    this.#sagaRun(sagaId).open.set(`${kind}:${step}:${attempt}`, now());
  }

  #attemptEnded(
    sagaId: string,
    kind: 'step' | 'compensation',
    step: string,
    attempt: number,
    failure?: string,
  ): void {
    const run = this.#runs.get(sagaId);
    const started = run?.open.get(`${kind}:${step}:${attempt}`);
    if (!run || started === undefined) return;
    run.open.delete(`${kind}:${step}:${attempt}`);
    run.bars.push({
      lane: this.#o.laneOfStep[step] ?? 'coordinator',
      name: step,
      kind,
      startMs: round(started - run.start),
      durationMs: round(now() - started),
      failed: failure !== undefined,
      attempt,
      detail: failure ?? null,
    });
  }

  #sagaEnded(sagaId: string, name: string, outcome: string): void {
    const run = this.#runs.get(sagaId);
    this.#runs.delete(sagaId);
    // Not a booking's (another saga), or resumed here after it started elsewhere: no whole run to show.
    if (!run?.bookingId) return;
    const total = now() - run.start;
    // The runner's own lane: the saga from its log insert to its end, the steps' gaps being its retry waits.
    run.bars.unshift({
      lane: 'coordinator',
      name: `${name} saga`,
      kind: 'phase',
      startMs: 0,
      durationMs: round(total),
      failed: outcome.startsWith('failed'),
      detail: outcome,
    });
    this.#finish(run, total, outcome);
  }

  #twoPhaseEnded(transactionId: string, outcome: string): void {
    const run = this.#runs.get(transactionId);
    if (!run) return;
    this.#runs.delete(transactionId);
    const end = now();
    const bars: WaterfallBar[] = statementBars(run);
    const workEnd = run.callbackEnd ?? run.queries.at(-1)?.end ?? run.start;
    if (outcome === 'aborted') {
      bars.push(phase(run, 'rollback', workEnd, end, true, 'every branch rolled back'));
    } else {
      if (run.preparedAt !== undefined) {
        const prepared = (run.prepared ?? []).join(', ');
        bars.push(phase(run, 'prepare', workEnd, run.preparedAt, false, `PREPARE TRANSACTION: ${prepared}`));
      }
      const from = run.preparedAt ?? workEnd;
      bars.push(phase(run, 'commit', from, end, false, 'decision logged, then COMMIT PREPARED'));
    }
    this.#finish({ ...run, bars }, end - run.start, outcome);
  }

  #finish(run: Run, totalMs: number, outcome: string): void {
    this.#o.onRecorded(run.bookingId, {
      run: run.run,
      protocol: run.protocol,
      startedAt: new Date(run.start).toISOString(),
      totalMs: round(totalMs),
      outcome,
      bars: run.bars,
    });
  }
}

/** A 2PC's statements as bars: each participant's consecutive statements are one bar on its lane. */
function statementBars(run: Run): WaterfallBar[] {
  const bars: WaterfallBar[] = [];
  let current: { q: Query; count: number; failed: boolean; end: number } | undefined;
  const flush = () => {
    if (!current) return;
    bars.push({
      lane: current.q.participant,
      name: current.count === 1 ? 'statement' : `${current.count} statements`,
      kind: 'step',
      startMs: round(current.q.start - run.start),
      durationMs: round(current.end - current.q.start),
      failed: current.failed,
    });
  };
  for (const q of run.queries) {
    if (current && current.q.participant === q.participant) {
      current.count++;
      current.end = q.end;
      current.failed ||= q.failed;
    } else {
      flush();
      current = { q, count: 1, failed: q.failed, end: q.end };
    }
  }
  flush();
  return bars;
}

function phase(
  run: Run,
  name: string,
  from: number,
  to: number,
  failed: boolean,
  detail: string,
): WaterfallBar {
  return {
    lane: 'coordinator',
    name,
    kind: 'phase',
    startMs: round(from - run.start),
    durationMs: round(Math.max(0, to - from)),
    failed,
    detail,
  };
}

function errorText(error: SerializedError): string {
  return `${error.code ?? error.reason ?? error.name}: ${error.message}`;
}
