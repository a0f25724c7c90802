import type { SeatLook } from './seat-map';

const entries: [SeatLook, string][] = [
  ['free', 'Free'],
  ['selected', 'Selected'],
  ['pending', 'Being booked'],
  ['booked', 'Booked'],
  ['mine', 'Yours'],
];

/** What the seat colours and marks mean. */
export function SeatLegend() {
  return (
    <ul className="legend" aria-label="Legend">
      {entries.map(([look, text]) => (
        <li key={look}>
          <span className={`seat ${look} swatch`} aria-hidden="true" />
          {text}
        </li>
      ))}
    </ul>
  );
}
