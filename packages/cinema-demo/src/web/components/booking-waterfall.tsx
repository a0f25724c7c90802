import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { BookingMode, TimelineEvent, WaterfallBar, WaterfallData } from '../api/types';
import { dateTime } from '../format';
import { TransactionTimeline } from './transaction-timeline';

/** Lanes in the order a booking crosses them; a bar of another lane goes below. */
const LANE_ORDER = ['coordinator', 'seats', 'payments', 'tickets'];

/**
 * The time a saga booking was half-done: from the end of the first step that committed something to the end of
 * the last step or compensation — while it lasts, another reader can see the seat taken and no ticket yet (or
 * the payment taken for a booking about to be undone). A two-phase commit has no such window: its writes
 * become visible together.
 *
 * @example
 * halfDoneWindow(bars); // { fromMs: 12.4, toMs: 48.9 } or null
 */
export function halfDoneWindow(bars: readonly WaterfallBar[]): { fromMs: number; toMs: number } | null {
  const effects = bars.filter((b) => (b.kind === 'step' || b.kind === 'compensation') && !b.failed);
  const firstCommit = effects.filter((b) => b.kind === 'step').sort((a, b) => end(a) - end(b))[0];
  if (!firstCommit) return null;
  const last = Math.max(...effects.map(end));
  return last > end(firstCommit) ? { fromMs: end(firstCommit), toMs: last } : null;
}

function end(bar: WaterfallBar): number {
  return bar.startMs + bar.durationMs;
}

function ms(value: number): string {
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

/** Lanes present in the bars, the known ones first. */
function lanesOf(bars: readonly WaterfallBar[]): string[] {
  const present = [...new Set(bars.map((b) => b.lane))];
  return present.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function rank(lane: string): number {
  const i = LANE_ORDER.indexOf(lane);
  return i === -1 ? LANE_ORDER.length : i;
}

function barLabel(bar: WaterfallBar): string {
  const attempt = bar.attempt && bar.attempt > 1 ? ` (attempt ${bar.attempt})` : '';
  const outcome = bar.failed ? ' — failed' : '';
  return `${bar.kind === 'compensation' ? '↩ ' : ''}${bar.name}${attempt}: starts at ${ms(bar.startMs)}, takes ${ms(bar.durationMs)}${outcome}${bar.detail ? ` (${bar.detail})` : ''}`;
}

/**
 * A booking's transaction as a waterfall: one lane per database plus the coordinator, one bar per step,
 * compensation or two-phase phase at its real start and duration; retries and compensations are bars of their
 * own, and a saga's half-done time is shaded across the lanes.
 *
 * @example
 * <BookingWaterfall data={{ run: 'booking', protocol: 'saga', totalMs: 52, bars, ... }} />
 */
export function BookingWaterfall({ data }: { data: WaterfallData }) {
  if (data.bars.length === 0) return null;
  const total = Math.max(data.totalMs, ...data.bars.map(end), 1);
  const pct = (value: number) => `${(value / total) * 100}%`;
  const halfDone = data.protocol === 'saga' ? halfDoneWindow(data.bars) : null;
  const lanes = lanesOf(data.bars);
  const what = data.run === 'cancellation' ? 'Cancellation' : 'Booking';
  return (
    <figure
      className="waterfall"
      data-testid="waterfall"
      data-protocol={data.protocol}
      data-run={data.run}
      data-outcome={data.outcome}
    >
      <figcaption>
        <strong>
          {what} by {data.protocol === 'saga' ? 'saga' : 'two-phase commit'}
        </strong>
        : {data.outcome}, {ms(total)} in all <span className="muted small">· {dateTime(data.startedAt)}</span>
        {halfDone ? (
          <span className="wf-half-done-note" data-testid="half-done">
            {' '}
            · half-done for {ms(halfDone.toMs - halfDone.fromMs)} (shaded): others could see some databases
            changed and not the rest
          </span>
        ) : data.protocol === '2pc' ? (
          <span className="muted"> · all databases commit together: never half-done</span>
        ) : null}
      </figcaption>
      <div className="wf-grid">
        {lanes.map((lane) => (
          <div className="wf-lane" key={lane} data-lane={lane}>
            <span className="wf-lane-name">{lane}</span>
            <div className="wf-track">
              {data.bars
                .filter((b) => b.lane === lane)
                .map((bar, i) => (
                  <span
                    // biome-ignore lint/suspicious/noArrayIndexKey: bars of a finished transaction never reorder
                    key={i}
                    className={`wf-bar wf-${bar.kind}${bar.failed ? ' wf-failed' : ''}`}
                    style={{ left: pct(bar.startMs), width: `max(3px, ${pct(bar.durationMs)})` }}
                    title={barLabel(bar)}
                    aria-label={barLabel(bar)}
                    role="img"
                    data-name={bar.name}
                    data-kind={bar.kind}
                    data-start-ms={bar.startMs}
                    data-duration-ms={bar.durationMs}
                  />
                ))}
            </div>
          </div>
        ))}
        {halfDone && (
          <div className="wf-half-done-layer" aria-hidden="true">
            <span
              className="wf-half-done"
              data-testid="half-done-region"
              style={{ left: pct(halfDone.fromMs), width: pct(halfDone.toMs - halfDone.fromMs) }}
            />
          </div>
        )}
        <div className="wf-axis" aria-hidden="true">
          <span>0</span>
          <span>{ms(total / 2)}</span>
          <span>{ms(total)}</span>
        </div>
      </div>
      <ul className="wf-legend muted small" aria-hidden="true">
        <li>
          <span className="wf-key wf-step" /> step (2PC: statements)
        </li>
        <li>
          <span className="wf-key wf-compensation" /> compensation (undo)
        </li>
        <li>
          <span className="wf-key wf-phase" /> coordinator
        </li>
        <li>
          <span className="wf-key wf-failed" /> failed attempt
        </li>
        {halfDone && (
          <li>
            <span className="wf-key wf-half-done" /> half-done
          </li>
        )}
      </ul>
    </figure>
  );
}

/** How often and how long to look for a waterfall that is not written yet (another instance flushes it soon). */
const LOOK_EVERY_MS = 300;
const LOOKS = 10;

/**
 * The waterfalls of one booking (its own transaction, then its cancellation's), loaded from the API; looks
 * again a few times while there is none yet (written within a fraction of a second by the instance that ran it).
 * `waitFor: 'cancellation'` looks until the cancellation's is there too (a cancellation just ended).
 *
 * @example
 * <BookingWaterfalls bookingId={booking.id} mode={booking.mode} />
 */
export function BookingWaterfalls({
  bookingId,
  mode,
  waitFor = 'booking',
}: {
  bookingId: string;
  /** The booking's mode (for the events shown when no timing was recorded). */
  mode: BookingMode;
  waitFor?: WaterfallData['run'];
}) {
  const [waterfalls, setWaterfalls] = useState<WaterfallData[]>();
  const [failed, setFailed] = useState<string>();
  useEffect(() => {
    let stop = false;
    void (async () => {
      for (let look = 0; look < LOOKS && !stop; look++) {
        try {
          const found = (await api.waterfall(bookingId)).waterfalls;
          if (stop) return;
          setFailed(undefined);
          // What is there is shown at once (a booking's, while its cancellation's is awaited); "none" only at
          // the last look, so a timing written a moment later does not flash the fallback first.
          if (found.length > 0 || look === LOOKS - 1) setWaterfalls(found);
          if (found.some((w) => w.run === waitFor)) return;
        } catch (e) {
          if (!stop) setFailed(e instanceof Error ? e.message : String(e));
        }
        await new Promise((resolve) => setTimeout(resolve, LOOK_EVERY_MS));
      }
    })();
    return () => {
      stop = true;
    };
  }, [bookingId, waitFor]);
  if (failed && !waterfalls) return <p className="error-text">Could not load the timeline: {failed}</p>;
  if (!waterfalls) return <p className="muted small">Loading the timeline…</p>;
  if (waterfalls.length === 0) return <EventsInstead bookingId={bookingId} mode={mode} />;
  return (
    <div className="waterfalls" data-testid="waterfalls">
      {waterfalls.map((w) => (
        <BookingWaterfall key={w.run} data={w} />
      ))}
    </div>
  );
}

/**
 * For a booking whose timing was not recorded (a saga resumed after its instance crashed, a timing dropped while
 * the database was unreachable): the list of its steps from the saga log or its record, without durations.
 */
function EventsInstead({ bookingId, mode }: { bookingId: string; mode: BookingMode }) {
  const [events, setEvents] = useState<TimelineEvent[]>();
  useEffect(() => {
    let stop = false;
    api
      .timeline(bookingId)
      .then(({ events: found }) => !stop && setEvents(found))
      .catch(() => !stop && setEvents([]));
    return () => {
      stop = true;
    };
  }, [bookingId]);
  return (
    <>
      <p className="muted small">No timing was recorded for this booking; what its log says:</p>
      {events && <TransactionTimeline events={events} mode={mode} />}
    </>
  );
}
