/**
 * Durations as operators write them: `30s`, `5m`, `1h30m`, `720h`, `250ms`. Pure.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `1h30m`; throws a SyntaxError naming the text. */
export function parseDuration(text: string): number {
  const s = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s === "" || matched !== s.length) {
    throw new SyntaxError(
      `invalid duration ${JSON.stringify(text)}: use a number and a unit, e.g. 30s, 5m, 1h30m`,
    );
  }
  return Math.round(total);
}

export function tryParseDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** The longest wait a timer can take (2^31 - 1 ms, about 24.8 days): a longer one fires at once in Bun/Node. */
export const MAX_TIMER_MS = 2_147_483_647;
