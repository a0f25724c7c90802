import { readFile } from 'node:fs/promises';
import { type Contention, parseContention } from '../library/seat-picker.js';

/** One grid of measurement cells: every contention × decline rate × concurrency listed. */
export interface Sweep {
  label: string;
  contention: Contention[];
  declineRates: number[];
  concurrency: number[];
}

/** Kill the process running the coordinator / runner mid-run, restart it, let recovery finish, audit. */
export interface CrashPlan {
  modes: string[];
  concurrency: number;
  contention: Contention;
  declineRate: number;
  /** Seconds of load before the kill -9. */
  killAfterSeconds: number;
  /** Seconds of load the restarted process runs after its recovery. */
  afterRestartSeconds: number;
}

/** A bench run described in a file (`scenarios/*.json`), validated by {@link parseScenario}. */
export interface Scenario {
  name: string;
  description: string;
  level: 'library' | 'e2e';
  modes: string[];
  baseline: string;
  durationSeconds: number;
  rounds: number;
  seatCount: number;
  sweeps: Sweep[];
  crash?: CrashPlan;
}

const allowedConcurrency = [1, 2, 4, 8, 16, 32, 64];

/** Collects every problem of a scenario file, so that one run of the CLI names them all. */
class Problems {
  readonly list: string[] = [];
  check(ok: boolean, message: string): boolean {
    if (!ok) this.list.push(message);
    return ok;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(p: Problems, value: unknown, where: string): string[] {
  if (
    !p.check(
      Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'),
      `${where} must be a non-empty list of strings`,
    )
  )
    return [];
  return value as string[];
}

function contentions(p: Problems, value: unknown, where: string): Contention[] {
  return strings(p, value, where).flatMap((text) => {
    try {
      return [parseContention(text)];
    } catch (error) {
      p.check(false, `${where}: ${(error as Error).message}`);
      return [];
    }
  });
}

function rates(p: Problems, value: unknown, where: string): number[] {
  const ok =
    Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && v >= 0 && v <= 1);
  p.check(ok, `${where} must be a non-empty list of fractions in [0, 1] (0.05 is 5 %)`);
  return ok ? (value as number[]) : [];
}

function positive(p: Problems, value: unknown, where: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  p.check(
    typeof value === 'number' && value > 0 && Number.isFinite(value),
    `${where} must be a positive number`,
  );
  return typeof value === 'number' ? value : 0;
}

/**
 * Validates a parsed scenario file and fills its defaults; throws one error listing every problem found.
 * `knownModes` are the mode names of the scenario's level.
 *
 * @example
 * const scenario = parseScenario(JSON.parse(text), Object.keys(bookingModes));
 */
export function parseScenario(raw: unknown, knownModes: readonly string[]): Scenario {
  const p = new Problems();
  if (!isRecord(raw)) throw new Error('a scenario file holds one JSON object');
  const level = raw.level;
  p.check(
    level === 'library' || level === 'e2e',
    `level must be 'library' or 'e2e', got ${JSON.stringify(level)}`,
  );
  p.check(typeof raw.name === 'string' && raw.name.length > 0, 'name must be a non-empty string');
  const modes = strings(p, raw.modes, 'modes');
  for (const m of modes)
    p.check(knownModes.includes(m), `unknown mode '${m}' (known: ${knownModes.join(', ')})`);
  const baseline = typeof raw.baseline === 'string' ? raw.baseline : (modes[0] ?? '');
  p.check(modes.includes(baseline), `baseline '${baseline}' must be one of the modes`);
  const sweeps: Sweep[] = [];
  if (p.check(Array.isArray(raw.sweeps) && raw.sweeps.length > 0, 'sweeps must be a non-empty list')) {
    (raw.sweeps as unknown[]).forEach((s, i) => {
      const where = `sweeps[${i}]`;
      if (!p.check(isRecord(s), `${where} must be an object`) || !isRecord(s)) return;
      const concurrency = Array.isArray(s.concurrency) ? s.concurrency : [];
      p.check(
        concurrency.length > 0 && concurrency.every((c) => allowedConcurrency.includes(c as number)),
        `${where}.concurrency must list values from ${allowedConcurrency.join(', ')}`,
      );
      sweeps.push({
        label: typeof s.label === 'string' ? s.label : `sweep ${i + 1}`,
        contention: contentions(p, s.contention, `${where}.contention`),
        declineRates: rates(p, s.declineRates, `${where}.declineRates`),
        concurrency: concurrency as number[],
      });
    });
  }
  let crash: CrashPlan | undefined;
  if (
    raw.crash !== undefined &&
    p.check(isRecord(raw.crash), 'crash must be an object') &&
    isRecord(raw.crash)
  ) {
    const c = raw.crash;
    const crashModes = strings(p, c.modes, 'crash.modes');
    for (const m of crashModes) p.check(modes.includes(m), `crash mode '${m}' is not among the modes`);
    crash = {
      modes: crashModes,
      concurrency: positive(p, c.concurrency, 'crash.concurrency'),
      contention: contentions(p, [c.contention ?? 'fresh'], 'crash.contention')[0] ?? { kind: 'fresh' },
      declineRate: rates(p, [c.declineRate ?? 0], 'crash.declineRate')[0] ?? 0,
      killAfterSeconds: positive(p, c.killAfterSeconds, 'crash.killAfterSeconds'),
      afterRestartSeconds: positive(p, c.afterRestartSeconds, 'crash.afterRestartSeconds'),
    };
  }
  const scenario: Scenario = {
    name: String(raw.name),
    description: typeof raw.description === 'string' ? raw.description : '',
    level: level as Scenario['level'],
    modes,
    baseline,
    durationSeconds: positive(p, raw.durationSeconds, 'durationSeconds'),
    rounds: positive(p, raw.rounds, 'rounds', 1),
    seatCount: positive(p, raw.seatCount, 'seatCount', 200_000),
    sweeps,
    ...(crash ? { crash } : {}),
  };
  p.check(Number.isInteger(scenario.rounds), 'rounds must be an integer');
  if (p.list.length > 0) throw new Error(`invalid scenario:\n  - ${p.list.join('\n  - ')}`);
  return scenario;
}

/** Reads and validates a scenario file. */
export async function loadScenario(path: string, knownModes: readonly string[]): Promise<Scenario> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read scenario ${path}: ${(error as Error).message}`);
  }
  return parseScenario(raw, knownModes);
}
