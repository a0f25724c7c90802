/** 1234 → "12.00" in the page's locale with the currency sign. */
export function money(cents: number): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' }).format(cents / 100);
}

/** A screening time, with the year (a programme can span New Year): "Wed 25 Nov 2026, 18:00". */
export function showTime(iso: string): string {
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso));
}

/** When something happened, with the date and year: "5 Dec 2026, 19:44:20". */
export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(new Date(iso));
}

/** A clock time with seconds, for timelines. */
export function clock(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(
    new Date(iso),
  );
}

/** Row letters as printed on cinema seats: 1 → A, 27 → AA. */
export function rowLabel(row: number): string {
  let label = '';
  for (let n = row; n > 0; n = Math.floor((n - 1) / 26))
    label = String.fromCharCode(65 + ((n - 1) % 26)) + label;
  return label;
}

/** Human words for the server's rejection codes. */
export const reasonText: Record<string, string> = {
  'seat-taken': 'One of the seats was taken by someone else.',
  'seat-locked': 'One of the seats is being booked by someone else right now.',
  'insufficient-funds': 'Your wallet does not hold enough for these seats.',
  'payment-declined': 'The payment was declined.',
  'ticket-failed': 'The tickets could not be issued.',
  aborted: 'The booking was aborted.',
};
