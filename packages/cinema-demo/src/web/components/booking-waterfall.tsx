import type { WaterfallBar, WaterfallData } from '../api/types';

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
 * <BookingWaterfall data={{ protocol: 'saga', totalMs: 52, bars }} />
 */
export function BookingWaterfall({ data }: { data: WaterfallData }) {
  if (data.bars.length === 0) return null;
  const total = Math.max(data.totalMs, ...data.bars.map(end), 1);
  const pct = (value: number) => `${(value / total) * 100}%`;
  const halfDone = data.protocol === 'saga' ? halfDoneWindow(data.bars) : null;
  const lanes = lanesOf(data.bars);
  return (
    <figure className="waterfall" data-testid="waterfall" data-protocol={data.protocol}>
      <figcaption>
        {data.protocol === 'saga' ? 'Saga' : 'Two-phase commit'}, {ms(total)} in all
        {halfDone ? (
          <span className="wf-half-done-note" data-testid="half-done">
            {' '}
            · half-done for {ms(halfDone.toMs - halfDone.fromMs)} (shaded)
          </span>
        ) : data.protocol === '2pc' ? (
          <span className="muted"> · all databases commit together: never half-done</span>
        ) : null}
      </figcaption>
      <div className="wf-grid" style={{ gridTemplateRows: `repeat(${lanes.length}, auto) auto` }}>
        {lanes.map((lane) => (
          <div className="wf-lane" key={lane} data-lane={lane}>
            <span className="wf-lane-name">{lane}</span>
            <div className="wf-track">
              {data.bars
                .filter((b) => b.lane === lane)
                .map((bar, i) => (
                  <span
                    // biome-ignore lint/suspicious/noArrayIndexKey: bars of a finished booking never reorder
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
    </figure>
  );
}
