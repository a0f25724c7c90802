/**
 * The median of a list of numbers (the mean of the two middle ones for an even count); `undefined` when empty.
 *
 * @example
 * median([0.61, 0.48, 0.55]); // 0.55
 */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
