/**
 * How far a release manifest is from its expiry, in words: hosts refuse an expired manifest (E_EXPIRED) and
 * stop updating, so whoever writes or publishes one is told when, and warned in the last week. Pure.
 */

/** Warn when the published manifest expires within this long. */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;

export interface Expiry {
  /** Whole milliseconds left (negative once expired). */
  leftMs: number;
  expired: boolean;
  /** Within EXPIRY_WARNING_MS of the expiry (and not expired yet). */
  soon: boolean;
  /** `in 29 days`, `in 5 hours`, `12 minutes ago`. */
  relative: string;
}

function amount(ms: number): string {
  const abs = Math.abs(ms);
  const unit = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  if (abs >= 2 * 86_400_000) return unit(Math.round(abs / 86_400_000), "day");
  if (abs >= 2 * 3_600_000) return unit(Math.round(abs / 3_600_000), "hour");
  return unit(Math.max(1, Math.floor(abs / 60_000)), "minute");
}

export function manifestExpiry(expires: string, now: Date): Expiry {
  const leftMs = Date.parse(expires) - now.getTime();
  const expired = leftMs <= 0;
  return {
    leftMs,
    expired,
    soon: !expired && leftMs <= EXPIRY_WARNING_MS,
    relative: expired ? `${amount(leftMs)} ago` : `in ${amount(leftMs)}`,
  };
}

/**
 * The warning for a published manifest that expires within a week or has expired, else undefined. Says what
 * happens then and what to do.
 */
export function expiryWarning(product: string, expires: string, now: Date): string | undefined {
  const e = manifestExpiry(expires, now);
  const fix = `write a fresh one (upkeep release manifest --add ... --out DIR keeps its releases) and publish it`;
  if (e.expired)
    return `the published ${product} release manifest EXPIRED ${e.relative} (${expires}): hosts refuse it and install nothing; ${fix}`;
  if (e.soon)
    return `the published ${product} release manifest expires ${e.relative} (${expires}): hosts stop updating then; ${fix}`;
  return undefined;
}
