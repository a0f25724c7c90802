/** Counters of what the runs exercised (crashes, failures, outcomes, mixed readings), printed after a suite. */
export class RunStats {
  readonly name: string;
  readonly counts = new Map<string, number>();

  constructor(name: string) {
    this.name = name;
  }

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
    // Progress for long soaks (a soak cut short by a time limit still shows how far it got).
    if (key === 'runs' && this.get('runs') % 250 === 0) {
      console.log(`[progress] ${this.name}: ${this.get('runs')} runs at ${new Date().toISOString()}`);
    }
  }

  /** Counts the faults that fired, by kind and point. */
  addFaults(fired: readonly { spec: { kind: string }; site: { point: string } }[]): void {
    if (fired.some((f) => f.spec.kind === 'crash')) this.add('runs with a crash');
    for (const f of fired) this.add(`${f.spec.kind} ${f.site.point}`);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  toString(): string {
    return JSON.stringify(Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b))));
  }
}
