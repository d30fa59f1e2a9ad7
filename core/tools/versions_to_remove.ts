/**
 * Least-recently-used cleanup: keep at most `keep` versions, never the one in use. `lastUsed` maps a version
 * to its last use (ms). Returns the versions to remove, least recently used first.
 */
export function versionsToRemove(
  lastUsed: ReadonlyMap<string, number>,
  inUse: string | undefined,
  keep: number,
): string[] {
  const candidates = [...lastUsed.entries()]
    .filter(([v]) => v !== inUse)
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  const excess = lastUsed.size - keep;
  return excess > 0 ? candidates.slice(0, excess).map(([v]) => v) : [];
}
