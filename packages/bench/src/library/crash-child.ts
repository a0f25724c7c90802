/**
 * The process a crash-injection cell kills: it drives one mode's load (the coordinator or saga runner lives
 * here) until it is killed, or — when restarted — first lets the mode's recovery finish what the killed
 * process left, then drives load for a while and prints its result as one JSON line.
 * Run by {@link runCrashCell} as `node --import tsx crash-child.ts '<json arguments>'`.
 */
import pg from 'pg';
import { bookingModes } from './modes/index.js';
import { runLoad } from './run-load.js';
import { type Contention, seatPicker } from './seat-picker.js';

interface ChildArguments {
  urls: string[];
  mode: string;
  concurrency: number;
  contention: Contention;
  declineRate: number;
  seconds: number;
  recoverFirst: boolean;
  /** The first seat id this process books under `fresh` contention (the restarted one must not reuse seats). */
  firstSeat: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArguments;
const [seats, payments, tickets] = args.urls.map(
  (url) => new pg.Pool({ connectionString: url, max: args.concurrency + 4 }),
);
if (!seats || !payments || !tickets) throw new Error('crash child needs three database URLs');
const dbs = { seats, payments, tickets };
const mode = await bookingModes[args.mode]!(dbs);
let recoverMs = 0;
if (args.recoverFirst) {
  const t0 = performance.now();
  await mode.recover?.();
  recoverMs = performance.now() - t0;
}
const picker = seatPicker(args.contention);
const offset = args.contention.kind === 'fresh' ? args.firstSeat - 1 : 0;
process.stdout.write(`${JSON.stringify({ event: 'loading', recoverMs })}\n`);
const sample = await runLoad({
  mode,
  concurrency: args.concurrency,
  durationMs: args.seconds * 1000,
  round: 1,
  seats: { next: () => picker.next() + offset, sold: (s) => picker.sold?.(s - offset) },
  declineRate: args.declineRate,
});
process.stdout.write(
  `${JSON.stringify({ event: 'done', recoverMs, outcomes: sample.outcomes, firstError: sample.firstError })}\n`,
);
await mode.close?.();
await Promise.all([seats.end(), payments.end(), tickets.end()]);
