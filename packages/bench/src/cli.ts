import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { libraryReportCharts, libraryReportMarkdown } from './library/library-report.js';
import { runLibraryBench } from './library/run-library-bench.js';
import { parseContention } from './library/seat-picker.js';
import { writeReport } from './report/write-report.js';

const usage = `usage: npm run bench -w bench -- run <scenario.json> [--out <dir>] [--pg-urls <urls>]
       npm run bench -w bench -- library [options]
       npm run bench -w bench -- log-layouts [--sagas <n>] [--rounds <n>] [--pg-url <url>]

run: a scenario file (scenarios/quick.json, scenarios/full.json, ...) — level, modes, sweeps over contention,
     decline rate and concurrency, rounds, crash injection. library: one sweep from the options below.
log-layouts: the server CPU and WAL per saga of saga-log layouts against the floor's row (default 3000 sagas,
     5 rounds, one server started here; --pg-url must be a server on this machine: its CPU is read from /proc).

  --modes <list>        comma-separated modes (default: local,2pc,raw-2pc,saga,raw-saga where available)
  --concurrency <list>  comma-separated client counts (default: 1,8,32)
  --duration <s>        seconds per measurement cell (default: 5)
  --rounds <n>          interleaved rounds per cell (default: 2)
  --contention <c>      fresh | hot:<seats> | screening:<seats> (default: fresh)
  --decline <rate>      fraction of payments declined, e.g. 0.05 (default: 0)
  --baseline <mode>     mode the ratios are taken against (default: local, else the first mode)
  --pg-urls <urls>      three postgres:// URLs instead of embedded servers
  --out <dir>           results folder (default: results/<timestamp>)`;

function numbers(text: string, flag: string): number[] {
  const list = text.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`${flag} takes positive integers: '${text}'`);
  return list;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      modes: { type: 'string', default: 'local,2pc,raw-2pc,saga,raw-saga' },
      concurrency: { type: 'string', default: '1,8,32' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string' },
      contention: { type: 'string', default: 'fresh' },
      decline: { type: 'string', default: '0' },
      baseline: { type: 'string', default: 'local' },
      'pg-urls': { type: 'string' },
      'pg-url': { type: 'string' },
      sagas: { type: 'string', default: '3000' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals[0] === 'run' && positionals[1]) {
    const { runScenarioFile } = await import('./scenario/run-scenario.js');
    await runScenarioFile(positionals[1], {
      ...(values.out ? { out: values.out } : {}),
      ...(values['pg-urls'] ? { pgUrls: values['pg-urls'] } : {}),
    });
    return;
  }
  if (positionals[0] === 'log-layouts') {
    const { runLogLayouts, logLayoutsMarkdown } = await import('./library/log-layouts.js');
    const results = await runLogLayouts({
      sagas: numbers(values.sagas, '--sagas')[0]!,
      rounds: numbers(values.rounds ?? '5', '--rounds')[0]!,
      ...(values['pg-url'] ? { pgUrl: values['pg-url'] } : {}),
      progress: (line) => console.log(line),
    });
    console.log(`\n${logLayoutsMarkdown(results)}`);
    return;
  }
  if (values.help || positionals[0] !== 'library') {
    console.log(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const { bookingModes } = await import('./library/modes/index.js');
  const modes = values.modes
    .split(',')
    .filter((m) => values.modes !== 'local,2pc,raw-2pc,saga,raw-saga' || bookingModes[m]);
  const result = await runLibraryBench({
    modes,
    sweeps: [
      {
        label: 'library',
        contention: [parseContention(values.contention)],
        declineRates: [Number(values.decline)],
        concurrency: numbers(values.concurrency, '--concurrency'),
      },
    ],
    durationMs: Number(values.duration) * 1000,
    rounds: numbers(values.rounds ?? '2', '--rounds')[0]!,
    seatCount: 200_000,
    ...(values['pg-urls'] ? { pgUrls: values['pg-urls'] } : {}),
    progress: (line) => console.log(line),
  });
  const out = values.out ?? join('results', new Date().toISOString().replaceAll(':', '-'));
  // Without its default baseline among the modes, the first mode is the baseline (raw-saga in the DBOS comparison).
  const baseline = modes.includes(values.baseline) ? values.baseline : (modes[0] ?? values.baseline);
  const markdown = libraryReportMarkdown(result, baseline);
  await writeReport({
    dir: out,
    title: 'txkit library-level bench',
    results: result,
    markdown,
    charts: await libraryReportCharts(result),
  });
  console.log(`\n${markdown}\nresults written to ${out}`);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
