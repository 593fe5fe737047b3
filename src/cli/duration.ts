// Durations on the command line: whole seconds (`3600`) or a number with a unit: `90s`, `30m`,
// `12h`, `7d`. Returns seconds, or null when `raw` is not one.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export function parseDuration(raw: string): number | null {
  const m = /^(\d{1,12})([smhd]?)$/.exec(raw.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2] || 's']!;
  return Number.isSafeInteger(seconds) ? seconds : null;
}
