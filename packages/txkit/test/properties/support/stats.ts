/** Counters of what the runs exercised (crashes, failures, outcomes, mixed readings), printed after a suite. */
export class RunStats {
  readonly counts = new Map<string, number>();

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** Counts the faults that fired, by kind and point. */
  addFaults(fired: readonly { spec: { kind: string }; site: { point: string } }[]): void {
    if (fired.some((f) => f.spec.kind === 'crash')) this.add('runs with a crash');
    for (const f of fired) this.add(`${f.spec.kind} ${f.site.point}`);
  }

  toString(): string {
    return JSON.stringify(Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b))));
  }
}
