const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The accepted spelling of a duration: a number with an optional unit (ms, s, m, h, d); no unit means seconds. */
export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$';

/**
 * Parses `"20m"`, `"45s"`, `"250ms"`, `"12h"` or a bare number of seconds into milliseconds.
 * Throws on anything else, so a typo in a timeout never silently becomes 0.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new RangeError(`not a duration: ${JSON.stringify(text)} (use for example 45s, 20m, 250ms)`);
  const unit = UNIT_MS[match[2] ?? 's'] ?? 1_000;
  return Math.round(Number(match[1]) * unit);
}

/** Formats milliseconds in the largest unit that divides them evenly (`1200000` → `"20m"`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
