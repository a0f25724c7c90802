import { recordSteps, type StepRecordWrite } from './saga-log.js';
import type { FencedWrite, SagaLogWriter } from './saga-log-writer.js';

/** How long a lazy write waits for others to share its statement (it delays no caller, only the log's view). */
export const lingerMs = 20;

interface Waiting {
  write: StepRecordWrite;
  saga: { id: string; name: string };
  resolve: (result: FencedWrite) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of step records: while one record write of this runner is in flight, the records of other sagas
 * queue, and go together in one statement (one commit) when it returns. A lone write goes out at once as the
 * plain one-saga statement, so a runner with one saga at a time waits for nothing and sends what it always sent.
 * Each saga's answer is its own fence: a batch never records anything for a saga whose token no longer holds.
 * A write nobody waits for (a saga's end written after `run()` answered) lingers up to {@link lingerMs} for
 * company instead of going out alone: at one saga at a time that still batches the ends of several sagas.
 */
export class RecordBatcher {
  readonly #log: SagaLogWriter;
  readonly #single: (write: StepRecordWrite) => Parameters<SagaLogWriter['fenced']>[0];
  #queue: Waiting[] = [];
  #inFlight = false;
  #linger: NodeJS.Timeout | undefined;

  constructor(
    log: SagaLogWriter,
    single: (write: StepRecordWrite) => Parameters<SagaLogWriter['fenced']>[0],
  ) {
    this.#log = log;
    this.#single = single;
  }

  /**
   * Writes one saga's records (fenced); resolves with that saga's fence and insert count. A `lazy` write is one
   * no caller waits for: it may linger for others to join it.
   */
  write(write: StepRecordWrite, saga: { id: string; name: string }, lazy = false): Promise<FencedWrite> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, saga, resolve, reject });
      if (this.#inFlight) return;
      if (!lazy) void this.#flush();
      else this.#linger ??= setTimeout(() => void this.#flush(), lingerMs);
    });
  }

  async #flush(): Promise<void> {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    if (this.#inFlight) return;
    this.#inFlight = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      await this.#send(batch);
    }
    this.#inFlight = false;
  }

  async #send(batch: Waiting[]): Promise<void> {
    const [first] = batch;
    if (batch.length === 1 && first) {
      await this.#log.fenced(this.#single(first.write), first.saga).then(first.resolve, first.reject);
      return;
    }
    try {
      const rows = await this.#log.fencedMany<{ id: string; inserted: number }>(
        recordSteps(
          this.#log.schema,
          batch.map((w) => w.write),
          this.#log.leaseMs,
        ),
        batch.map((w) => w.saga),
      );
      const held = new Map(rows.map((r) => [r.id, r.inserted]));
      for (const w of batch) {
        const inserted = held.get(w.write.id);
        w.resolve(inserted === undefined ? { fenced: 0, inserted: 0 } : { fenced: 1, inserted });
      }
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
