// Every timestamp gitgate stores: ISO-8601 UTC with milliseconds, so string order is time order.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/** Normalise a user-supplied date/time to the stored form; null when unparseable. */
export function normaliseIso(value: string): string | null {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
