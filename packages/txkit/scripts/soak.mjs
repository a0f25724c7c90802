#!/usr/bin/env node
// The soak: many randomized runs of one property (or several), outside CI, at the lowest CPU priority (the
// development machines are shared). CI runs the same properties with their short default run counts.
//
//   npm run soak -w txkit -- --runs 10000 --property partition-two-phase [--minutes 90] [--seed 42]
//
// --property is a file name under test/properties without `.property.test.ts` (repeatable; default: every
// partition property). --minutes stops starting new runs after that long: the runs done so far are the
// result, and the summary gives the measured runs per minute, so the duration of the full count is known.
// Prints one summary line per property (runs, failures, seed, duration, runs/min) and exits non-zero on a
// failure, whose report (seed, path, shrunk counterexample, violations) vitest printed above it.
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
    minutes: { type: 'string' },
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
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`soak: --runs must be a positive integer, got ${values.runs}`);
  process.exit(2);
}

const env = { ...process.env, TXKIT_PROPERTY_RUNS: String(runs) };
if (values.minutes) env.TXKIT_PROPERTY_TIME_LIMIT_MS = String(Math.round(Number(values.minutes) * 60_000));
if (values.seed) env.TXKIT_PROPERTY_SEED = values.seed;

const files = chosen.map((name) => `test/properties/${name}${SUFFIX}`);
const args = ['-n', '19', 'npx', 'vitest', 'run', ...files];
const started = new Date();
console.log(`soak: ${runs} runs of ${chosen.join(', ')} from ${started.toISOString()} (nice -n 19)`);
console.log(
  `soak: ${Object.entries(env)
    .filter(([k]) => k.startsWith('TXKIT_PROPERTY'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')} nice ${args.join(' ')}`,
);

const child = spawn('nice', args, { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'inherit'] });
const summaries = [];
let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString();
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    // assertProperty's line: "[property] <name>: <n> runs[ (time limit reached)], seed <s>, <t> s, passed|FAILED"
    const match =
      /\[property\] (.+): (\d+) runs( \(time limit reached\))?, seed (-?\d+), ([\d.]+) s, (passed|FAILED)/.exec(
        line,
      );
    if (match) {
      const [, name, done, limited, seed, seconds, result] = match;
      summaries.push({
        name,
        runs: Number(done),
        limited: Boolean(limited),
        seed,
        seconds: Number(seconds),
        result,
      });
    }
  }
});
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
const ended = new Date();

console.log(
  `\nsoak: ended ${ended.toISOString()} after ${((ended - started) / 60_000).toFixed(1)} min, vitest exit ${code}`,
);
for (const s of summaries) {
  const perMinute = s.seconds > 0 ? (s.runs / s.seconds) * 60 : 0;
  const full = perMinute > 0 ? ` (${runs} runs would take ~${Math.ceil(runs / perMinute)} min)` : '';
  console.log(
    `soak: ${s.name}: ${s.runs} runs${s.limited ? ' (time limit)' : ''}, ${s.result === 'FAILED' ? 'FAILED' : '0 failures'}, seed ${s.seed}, ${s.seconds} s, ${perMinute.toFixed(1)} runs/min${s.limited ? full : ''}`,
  );
}
if (summaries.length === 0) console.log('soak: no property reported (see the output above)');
process.exit(code);
