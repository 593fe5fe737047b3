// Durations on the command line (--ttl, --grace): plain seconds or a number with one unit,
// s, m, h or d (90s, 30m, 1h, 7d), as `gh`/`glab`-style tools accept them.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds for `raw`, or null when it is not a duration (negative, fractional with a unit,
 *  an unknown unit, empty). */
export function parseDuration(raw: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] || 's']!;
  return Number.isSafeInteger(seconds) ? seconds : null;
}
