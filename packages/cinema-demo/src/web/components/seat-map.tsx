import { type CSSProperties, type KeyboardEvent, useId, useMemo, useRef, useState } from 'react';
import type { Seat } from '../api/types';
import { rowLabel } from '../format';
import { useCentredOverflow } from './use-centred-overflow';

/** How a seat is shown: the server's state combined with what this person is doing. */
export type SeatLook = 'free' | 'selected' | 'pending' | 'booked' | 'mine';

const lookText: Record<SeatLook, string> = {
  free: 'free',
  selected: 'selected',
  pending: 'being booked',
  booked: 'booked',
  mine: 'yours',
};

interface SeatMapProps {
  title: string;
  rowCount: number;
  placesPerRow: number;
  seats: readonly Seat[];
  lookOf(seat: Seat): SeatLook;
  onToggle(seat: Seat): void;
  disabled?: boolean;
}

/**
 * The room's seat map: a table with rows labelled A, B, ... whose cells are toggle buttons (places 1, 2, ...).
 * One seat is in the tab order at a time (roving tabindex); arrow keys move, Home/End jump within a row,
 * Space or Enter selects. Seats that cannot be chosen stay focusable (aria-disabled) so the keyboard can
 * still travel across them.
 *
 * @example
 * <SeatMap title="Room 1" rowCount={10} placesPerRow={15} seats={seats} lookOf={look} onToggle={toggle} />
 */
export function SeatMap({ title, rowCount, placesPerRow, seats, lookOf, onToggle, disabled }: SeatMapProps) {
  const grid = useMemo(() => {
    const rows: (Seat | undefined)[][] = Array.from({ length: rowCount }, () =>
      Array.from({ length: placesPerRow }, () => undefined),
    );
    for (const seat of seats) {
      const row = rows[seat.row - 1];
      if (row && seat.place >= 1 && seat.place <= placesPerRow) row[seat.place - 1] = seat;
    }
    return rows;
  }, [seats, rowCount, placesPerRow]);
  const [focus, setFocus] = useState({ row: 0, place: 0 });
  const hintId = useId();
  const scroller = useRef<HTMLDivElement>(null);
  const overflowing = useCentredOverflow(scroller);
  const cells = useRef(new Map<string, HTMLButtonElement>());

  const moveTo = (row: number, place: number) => {
    const next = {
      row: Math.min(Math.max(row, 0), rowCount - 1),
      place: Math.min(Math.max(place, 0), placesPerRow - 1),
    };
    setFocus(next);
    cells.current.get(`${next.row}:${next.place}`)?.focus();
  };

  const activate = (seat: Seat | undefined) => {
    if (!seat || disabled) return;
    const look = lookOf(seat);
    if (look === 'free' || look === 'selected') onToggle(seat);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const { row, place } = focus;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [row - 1, place],
      ArrowDown: [row + 1, place],
      ArrowLeft: [row, place - 1],
      ArrowRight: [row, place + 1],
      Home: [row, 0],
      End: [row, placesPerRow - 1],
      PageUp: [0, place],
      PageDown: [rowCount - 1, place],
    };
    const target = moves[event.key];
    // Space and Enter need nothing here: they click the focused button.
    if (target) {
      event.preventDefault();
      moveTo(target[0], target[1]);
    }
  };

  return (
    <>
      <div className="seat-scroll" ref={scroller}>
        <div className="seat-map" style={{ '--places': placesPerRow } as CSSProperties}>
          <p id={hintId} className="visually-hidden">
            Each seat is a button: Tab reaches the map, arrow keys move between seats, Home and End jump
            within a row, Space or Enter selects or unselects a free seat.
          </p>
          <div className="screen" aria-hidden="true">
            Screen
          </div>
          <table className="seat-grid" aria-describedby={hintId}>
            <caption className="visually-hidden">Seats in {title}</caption>
            <tbody>
              {grid.map((row, r) => (
                <tr className="seat-row" key={rowLabel(r + 1)}>
                  <th scope="row" className="row-label">
                    <span className="visually-hidden">Row </span>
                    {rowLabel(r + 1)}
                  </th>
                  {row.map((seat, p) => {
                    const key = `${r}:${p}`;
                    if (!seat) return <td key={key} />;
                    const look = lookOf(seat);
                    const selectable = !disabled && (look === 'free' || look === 'selected');
                    const label = `${rowLabel(seat.row)}${seat.place}`;
                    return (
                      <td key={key}>
                        <button
                          type="button"
                          ref={(el) => {
                            if (el) cells.current.set(key, el);
                            else cells.current.delete(key);
                          }}
                          className={`seat ${look}`}
                          data-seat={label}
                          data-look={look}
                          aria-label={`Row ${rowLabel(seat.row)}, seat ${seat.place}, ${lookText[look]}`}
                          aria-pressed={look === 'selected'}
                          aria-disabled={!selectable}
                          tabIndex={focus.row === r && focus.place === p ? 0 : -1}
                          onFocus={() => setFocus({ row: r, place: p })}
                          onClick={() => activate(seat)}
                          onKeyDown={onKeyDown}
                        >
                          <span aria-hidden="true">{seat.place}</span>
                        </button>
                      </td>
                    );
                  })}
                  <td className="row-label end" aria-hidden="true">
                    {rowLabel(r + 1)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      {overflowing && (
        <p className="scroll-hint muted small" aria-hidden="true">
          ← Scroll sideways to see the whole room →
        </p>
      )}
    </>
  );
}
