// Durations as Stalwart writes them: a number and a unit, possibly several in a row (`30d`, `12h`, `90m`,
// `1d12h`, `500ms`). Parsed to milliseconds; a bare number is refused because its unit would be a guess.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const WHOLE = /^(?:\s*\d+\s*(?:ms|s|m|h|d|w)\s*)+$/;
const PART = /(\d+)\s*(ms|s|m|h|d|w)/g;

export const DURATION_HINT =
  'a duration is a number and a unit (ms, s, m, h, d, w), like "30d", "12h" or "1d12h"';

/** Milliseconds for a duration text, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return Number.isSafeInteger(total) ? total : undefined;
}

/** A short human form of milliseconds for messages: `30d`, `1d12h`, `90s`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]!;
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      parts.push(`${amount}${unit}`);
      rest -= amount * size;
    }
  }
  return parts.join('');
}
