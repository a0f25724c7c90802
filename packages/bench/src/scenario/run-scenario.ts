import { join } from 'node:path';
import { libraryReportCharts, libraryReportMarkdown } from '../library/library-report.js';
import { bookingModes } from '../library/modes/index.js';
import { crashFailures, runLibraryBench } from '../library/run-library-bench.js';
import { writeReport } from '../report/write-report.js';
import { loadScenario } from './scenario.js';

/** Modes an end-to-end scenario can name: the demo API's booking protocols. */
export const e2eModes = ['saga', '2pc'] as const;

/**
 * Runs a scenario file end to end: validates it, runs its level, prints progress, writes the results folder
 * (`results.json`, `report.md`, `report.html`, `charts/`). Throws (non-zero exit) on any audit violation.
 *
 * @example
 * await runScenarioFile('scenarios/quick.json', {});
 */
export async function runScenarioFile(
  path: string,
  options: { out?: string; pgUrls?: string },
): Promise<void> {
  const probe = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path, 'utf8'))) as {
    level?: unknown;
  };
  const known = probe.level === 'e2e' ? [...e2eModes] : Object.keys(bookingModes);
  const scenario = await loadScenario(path, known);
  const out =
    options.out ?? join('results', `${new Date().toISOString().replaceAll(':', '-')}-${scenario.name}`);
  const started = Date.now();
  const progress = (line: string) => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    console.log(
      `${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')} ${line}`,
    );
  };
  progress(`scenario ${scenario.name} (${scenario.level}): ${scenario.description}`);
  if (scenario.level === 'e2e') {
    const { runE2eScenario } = await import('../e2e/run-e2e-bench.js');
    await runE2eScenario(scenario, out, progress);
    return;
  }
  const result = await runLibraryBench({
    modes: scenario.modes,
    sweeps: scenario.sweeps,
    durationMs: scenario.durationSeconds * 1000,
    rounds: scenario.rounds,
    seatCount: scenario.seatCount,
    ...(scenario.crash ? { crash: scenario.crash } : {}),
    ...(options.pgUrls ? { pgUrls: options.pgUrls } : {}),
    progress,
  });
  const markdown = libraryReportMarkdown(result, scenario.baseline);
  await writeReport({
    dir: out,
    title: `txkit bench — ${scenario.name} (library level)`,
    results: { scenario, ...result },
    markdown,
    charts: await libraryReportCharts(result),
  });
  console.log(`\n${markdown}\nresults written to ${out}`);
  const failures = crashFailures(result);
  if (failures.length > 0) throw new Error(`crash injection failed:\n  ${failures.join('\n  ')}`);
}
