#!/usr/bin/env node
// The soak: many randomized runs of one property (or several), outside CI, at the lowest CPU priority (the
// development machines are shared). CI runs the same properties with their short default run counts.
//
//   npm run soak -w txkit -- --runs 10000 --property partition-two-phase [--workers 2] [--minutes 90 | --until 21:30]
//     [--seed 42]
//
// --property is a file name under test/properties without `.property.test.ts` (repeatable; default: every
// partition property); the properties run one after another. --workers N runs each property in N vitest
// processes at once (each starts its own PostgreSQL servers in its global setup, and names its databases, queues
// and exchanges uniquely), each with its own seed and its share of the runs: fast-check runs one case at a time,
// so on a machine with spare cores, workers are what makes a soak faster. The seeds are drawn here (derived from
// --seed when given), so every worker's seed is known even when it reports nothing; replay a failure with the
// seed and path of its report. --minutes stops each worker starting new runs after that long (the run in
// progress finishes): the runs done so far are the result, and the summary gives the measured runs per minute,
// so the duration of the full count is known. --until HH:MM (UTC, today) or an ISO time is the same limit given as
// a moment, for a soak that must be over by then: each property gets the time left when it starts (a worker killed
// instead reports nothing, and leaves its PostgreSQL servers running). The summary sums runs and failures per property and lists every
// worker's seed; the exit code is non-zero on a failure, whose report (seed, path, shrunk counterexample,
// violations) vitest printed above it, prefixed with its worker.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const propertiesDir = join(packageDir, 'test', 'properties');
const SUFFIX = '.property.test.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    property: { type: 'string', multiple: true },
    workers: { type: 'string', default: '1' },
    minutes: { type: 'string' },
    until: { type: 'string' },
    seed: { type: 'string' },
  },
});

const available = readdirSync(propertiesDir)
  .filter((f) => f.endsWith(SUFFIX))
  .map((f) => f.slice(0, -SUFFIX.length));
const chosen = values.property ?? available.filter((name) => name.startsWith('partition-'));
const unknown = chosen.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`soak: no property ${unknown.join(', ')}; there are: ${available.join(', ')}`);
  process.exit(2);
}
/** A whole number of at least `min`, or exit with a message naming the option. */
function integerOption(name, raw, min) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    console.error(`soak: --${name} must be an integer ≥ ${min}, got ${raw}`);
    process.exit(2);
  }
  return value;
}
const runs = integerOption('runs', values.runs, 1);
const workers = integerOption('workers', values.workers, 1);
if (workers > runs) {
  console.error(`soak: --workers ${workers} is more than --runs ${runs}`);
  process.exit(2);
}
const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
if (minutes !== undefined && !(minutes > 0)) {
  console.error(`soak: --minutes must be a positive number, got ${values.minutes}`);
  process.exit(2);
}
/** --until as a time: HH:MM is today's, in UTC. */
function parseUntil(raw) {
  const clock = /^(\d{1,2}):(\d{2})$/.exec(raw);
  const at = clock
    ? new Date().setUTCHours(Number(clock[1]), Number(clock[2]), 0, 0)
    : new Date(raw).getTime();
  if (!Number.isFinite(at) || at <= Date.now()) {
    console.error(`soak: --until must be a time to come (HH:MM in UTC, or ISO), got ${raw}`);
    process.exit(2);
  }
  return at;
}
if (minutes !== undefined && values.until !== undefined) {
  console.error('soak: give --minutes or --until, not both');
  process.exit(2);
}
const until = values.until === undefined ? undefined : parseUntil(values.until);
/** The time limit of a property starting now, in ms, if there is one. */
function timeLimitMs() {
  if (minutes !== undefined) return Math.round(minutes * 60_000);
  if (until !== undefined) return Math.max(1, until - Date.now());
  return undefined;
}
const baseSeed = values.seed === undefined ? undefined : integerOption('seed', values.seed, -(2 ** 31));

/**
 * Worker `index`'s seed for the property at `position`: from --seed, a fixed spread (a 32-bit golden-ratio
 * step per worker and property, so no two workers replay the same cases); without it, a random one.
 */
function seedOf(position, index) {
  if (baseSeed === undefined) return (Math.random() * 2 ** 32) | 0;
  return (baseSeed + Math.imul(position * workers + index, 0x9e3779b9)) | 0;
}

// assertProperty's line: "[property] <name>: <n> runs[ (time limit reached)], seed <s>, <t> s, passed|FAILED"
const REPORT =
  /\[property\] (.+): (\d+) runs( \(time limit reached\))?, seed (-?\d+), ([\d.]+) s, (passed|FAILED)/;

/** Copies a stream to ours line by line, each line prefixed with its worker. */
function relay(stream, out, prefix, onLine) {
  let pending = '';
  stream.on('data', (chunk) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      out.write(`${prefix}${line}\n`);
      onLine?.(line);
    }
  });
  stream.on('end', () => {
    if (pending) out.write(`${prefix}${pending}\n`);
  });
}

/** One vitest process running one property file: its share of the runs, with its own seed. */
function startWorker(name, index, share, seed, limitMs) {
  const env = {
    ...process.env,
    TXKIT_PROPERTY_RUNS: String(share),
    TXKIT_PROPERTY_SEED: String(seed),
  };
  if (limitMs !== undefined) env.TXKIT_PROPERTY_TIME_LIMIT_MS = String(limitMs);
  const args = ['-n', '19', 'npx', 'vitest', 'run', `test/properties/${name}${SUFFIX}`];
  const prefix = `[w${index + 1}] `;
  console.log(
    `${prefix}TXKIT_PROPERTY_RUNS=${share} TXKIT_PROPERTY_SEED=${seed}` +
      `${env.TXKIT_PROPERTY_TIME_LIMIT_MS ? ` TXKIT_PROPERTY_TIME_LIMIT_MS=${env.TXKIT_PROPERTY_TIME_LIMIT_MS}` : ''}` +
      ` nice ${args.join(' ')}`,
  );
  const child = spawn('nice', args, { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const result = { index, seed, share, report: undefined, code: undefined };
  relay(child.stdout, process.stdout, prefix, (line) => {
    const match = REPORT.exec(line);
    if (match) {
      const [, , done, limited, reportedSeed, seconds, outcome] = match;
      result.report = {
        runs: Number(done),
        limited: Boolean(limited),
        seed: reportedSeed,
        seconds: Number(seconds),
        failed: outcome === 'FAILED',
      };
    }
  });
  relay(child.stderr, process.stderr, prefix);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      result.code = code ?? 1;
      resolve(result);
    });
  });
}

/** Runs one property in `workers` processes and summarises it. */
async function soakProperty(name, position) {
  const started = new Date();
  console.log(
    `\nsoak: ${name}: ${runs} runs in ${workers} worker(s) from ${started.toISOString()} (nice -n 19)`,
  );
  const limitMs = timeLimitMs();
  const results = await Promise.all(
    Array.from({ length: workers }, (_, index) => {
      const share = Math.floor(runs / workers) + (index < runs % workers ? 1 : 0);
      return startWorker(name, index, share, seedOf(position, index), limitMs);
    }),
  );
  const ended = new Date();
  const minutesTaken = (ended - started) / 60_000;
  const done = results.reduce((sum, r) => sum + (r.report?.runs ?? 0), 0);
  // A worker that printed no report (its set-up failed, or vitest died) counts as a failure: its runs are lost.
  const failures = results.filter((r) => !r.report || r.report.failed || r.code !== 0).length;
  const limited = results.some((r) => r.report?.limited);
  // The property's rate is the sum of its workers' rates (they ran at the same time), each over its own time.
  const perMinute = results.reduce(
    (sum, r) => sum + (r.report && r.report.seconds > 0 ? (r.report.runs / r.report.seconds) * 60 : 0),
    0,
  );
  const full =
    perMinute > 0 && done < runs ? ` (${runs} runs would take ~${Math.ceil(runs / perMinute)} min)` : '';
  const lines = [
    `soak: ${name}: ${done} runs${limited ? ' (time limit)' : ''}, ${failures} failure(s), ${workers} worker(s), ` +
      `${minutesTaken.toFixed(1)} min (${started.toISOString()} – ${ended.toISOString()}), ` +
      `${perMinute.toFixed(1)} runs/min${full}`,
    ...results.map((r) =>
      r.report
        ? `soak:   w${r.index + 1} seed ${r.seed}: ${r.report.runs} of ${r.share} runs, ${r.report.seconds} s, ` +
          `${r.report.failed ? 'FAILED (replay: TXKIT_PROPERTY_SEED and TXKIT_PROPERTY_PATH from its report)' : 'passed'}` +
          `${r.code !== 0 && !r.report.failed ? `, but vitest exited ${r.code}` : ''}`
        : `soak:   w${r.index + 1} seed ${r.seed}: no report, vitest exited ${r.code} (see its output above)`,
    ),
  ];
  return { failures, lines };
}

const summaries = [];
for (const [position, name] of chosen.entries()) summaries.push(await soakProperty(name, position));
console.log(`\nsoak: ended ${new Date().toISOString()}`);
for (const summary of summaries) for (const line of summary.lines) console.log(line);
process.exit(summaries.some((s) => s.failures > 0) ? 1 : 0);
