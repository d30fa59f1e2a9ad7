/**
 * Internal helpers of the compatibility rules (not re-exported from mod.ts).
 *
 * Two lines (DESIGN §1, seeds 003/004):
 * - modern (major >= policy.modernMajor): one major is one compatibility line; a server works with clients
 *   of its own major and up to `majorSkew` majors below.
 * - legacy (major below it): one minor is one line; a server works with clients of its own minor and up to
 *   `legacyMinorSkew` minors below. The release before `N.0` is the last minor of major `N-1`, so a legacy
 *   `N.0` server (and a first-modern-major server) accepts clients on the last minor of the previous major.
 */
import { compareVersions } from "../version/compare_versions.ts";
import { formatVersion } from "../version/format_version.ts";
import { isPrerelease } from "../version/is_prerelease.ts";
import type { SemVer } from "../version/types.ts";
import type { CompatPolicy, CompatResult } from "./types.ts";

/** Throws a RangeError when a policy field is not a sensible integer. */
export function assertPolicy(policy: CompatPolicy): void {
  const fields: [keyof CompatPolicy, number][] = [
    ["modernMajor", 0],
    ["majorSkew", 1],
    ["legacyMinorSkew", 1],
  ];
  for (const [key, min] of fields) {
    const value = policy[key];
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`invalid compatibility policy: ${key} must be an integer >= ${min}, got ${value}`);
    }
  }
}

export function isModern(v: SemVer, policy: CompatPolicy): boolean {
  return v.major >= policy.modernMajor;
}

/**
 * The last minor of `major` among the stable `releases` and `self` (a version on that major). Without a
 * release list, `self` is taken to be on the last minor.
 */
export function lastMinor(major: number, self: SemVer, releases: readonly SemVer[] | undefined): number {
  let last = self.minor;
  for (const r of releases ?? []) {
    if (r.major === major && !isPrerelease(r) && r.minor > last) last = r.minor;
  }
  return last;
}

/**
 * Orders compatibility lines: a modern version's line is its major, a legacy version's its major.minor.
 * An upgrade hop that does not reach a higher line is no progress.
 */
export function compareLines(a: SemVer, b: SemVer, policy: CompatPolicy): number {
  if (a.major !== b.major) return a.major - b.major;
  if (isModern(a, policy)) return 0;
  return a.minor - b.minor;
}

function count(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** "major N works with N-1" or "... with N-1 to N-3", for the configured skew. */
function skewRule(unit: "major" | "minor", skew: number): string {
  return skew === 1 ? `${unit} N works with N-1` : `${unit} N works with N-1 to N-${skew}`;
}

/**
 * The compatibility rules for a server and a client (or agent) of it; `role` only names the client in the
 * reason. Does not apply the agent cap (seed 001): see checkAgentVersion.
 */
export function checkLines(
  server: SemVer,
  client: SemVer,
  policy: CompatPolicy,
  releases: readonly SemVer[] | undefined,
  role: "client" | "agent",
): LineCheck {
  assertPolicy(policy);
  const sv = formatVersion(server);
  const cv = formatVersion(client);
  const result = (compatible: boolean, reason: string, advice?: string): LineCheck => ({
    compatible,
    reason: reason + prereleaseNote(server, client),
    advice,
  });
  const modern = `${policy.modernMajor}.0`;
  const assumed = releases === undefined ? " (assumed: no release list given)" : "";

  const c: LineCtx = { server, client, policy, releases, role, sv, cv, result, modern, assumed };
  if (client.major > server.major) {
    return result(
      false,
      `${role} ${cv} is a newer major than the server ${sv}: not guaranteed to work ` +
        `(a ${role} must not be newer than its server's major)`,
    );
  }

  if (isModern(server, policy)) return modernLines(c);
  // Legacy server (major below modernMajor), legacy client.
  if (client.major === server.major) return sameLegacyMajor(c);
  if (client.major === server.major - 1) return previousLegacyMajor(c);
  return result(
    false,
    `${role} ${cv} is ${count(server.major - client.major, "major")} behind the server ${sv}: ` +
      `before ${modern} a release works only with the one before it`,
  );
}

interface LineCtx {
  server: SemVer;
  client: SemVer;
  policy: CompatPolicy;
  releases: readonly SemVer[] | undefined;
  role: "client" | "agent";
  sv: string;
  cv: string;
  result: (compatible: boolean, reason: string, advice?: string) => LineCheck;
  modern: string;
  assumed: string;
}

/** A modern server (major >= modernMajor), a client not newer than its major. */
function modernLines(c: LineCtx): LineCheck {
  const { server, client, policy, releases, role, sv, cv, result, modern, assumed } = c;
  const behind = server.major - client.major;
  if (behind === 0) {
    if (compareVersions(server, client) === 0) return result(true, `${role} and server are both ${sv}`);
    return result(
      true,
      `${role} ${cv} and server ${sv} are both ${server.major}.x: ` +
        "minor and patch versions of one major are always compatible",
    );
  }
  if (behind > policy.majorSkew) {
    return result(
      false,
      `${role} ${cv} is ${count(behind, "major")} behind the server ${sv}: ` +
        `at most ${count(policy.majorSkew, "major")} allowed (${skewRule("major", policy.majorSkew)})`,
      `upgrade the ${role} to ${server.major - policy.majorSkew}.x or newer`,
    );
  }
  if (isModern(client, policy)) {
    return result(
      true,
      `${role} ${cv} is ${count(behind, "major")} behind the server ${sv}: ${skewRule("major", policy.majorSkew)}`,
    );
  }
  // A legacy client of a modern server: only from the last legacy major, on its last minor.
  if (client.major !== policy.modernMajor - 1) {
    return result(
      false,
      `${role} ${cv} is before ${policy.modernMajor - 1}.x: a ${server.major}.x server works only with ` +
        `${role}s on the last ${policy.modernMajor - 1}.x minor or newer`,
    );
  }
  const last = lastMinor(client.major, client, releases);
  if (client.minor < last) {
    return result(
      false,
      `${role} ${cv} is not on the last ${client.major}.x minor (${client.major}.${last}): ` +
        `a ${server.major}.x server works only with ${client.major}.${last} ${role}s`,
      `upgrade the ${role} through ${client.major}.${client.minor + 1}.x first`,
    );
  }
  return result(
    true,
    `${role} ${cv} is on the last ${client.major}.x minor${assumed}, ${count(behind, "major")} behind ` +
      `the server ${sv}: ${skewRule("major", policy.majorSkew)} (${modern} follows ${client.major}.${last})`,
  );
}

/** A legacy server and a client of its major. */
function sameLegacyMajor(c: LineCtx): LineCheck {
  const { server, client, policy, role, sv, cv, result, modern } = c;
  const behind = server.minor - client.minor;
  if (behind === 0) {
    if (compareVersions(server, client) === 0) return result(true, `${role} and server are both ${sv}`);
    return result(
      true,
      `${role} ${cv} and server ${sv} are both ${server.major}.${server.minor}.x: ` +
        "patch versions are always compatible",
    );
  }
  if (behind < 0) {
    return result(
      false,
      `${role} ${cv} is a newer minor than the server ${sv}: ` +
        `before ${modern} a ${role} must not be newer than its server`,
    );
  }
  if (behind > policy.legacyMinorSkew) {
    return result(
      false,
      `${role} ${cv} is ${count(behind, "minor")} behind the server ${sv}: before ${modern} ` +
        `${skewRule("minor", policy.legacyMinorSkew)} only`,
      `upgrade the ${role} through ${server.major}.${client.minor + 1}.x first`,
    );
  }
  return result(
    true,
    `${role} ${cv} is ${count(behind, "minor")} behind the server ${sv}: before ${modern} ` +
      `${skewRule("minor", policy.legacyMinorSkew)} (tsh/tctl older than the server may still refuse)`,
  );
}

/** A legacy server and a client of the major before. */
function previousLegacyMajor(c: LineCtx): LineCheck {
  const { server, client, policy, releases, role, sv, cv, result, modern, assumed } = c;
  const last = lastMinor(client.major, client, releases);
  if (client.minor < last) {
    return result(
      false,
      `${role} ${cv} is not on the last ${client.major}.x minor (${client.major}.${last}): ` +
        `before ${modern} only ${client.major}.${last} precedes ${server.major}.0`,
      `upgrade the ${role} through ${client.major}.${client.minor + 1}.x first`,
    );
  }
  const behind = server.minor + 1; // releases: last minor of the previous major, N.0, N.1, ...
  if (behind > policy.legacyMinorSkew) {
    return result(
      false,
      `${role} ${cv} is ${count(behind, "minor")} behind the server ${sv} ` +
        `(${client.major}.${last} precedes ${server.major}.0): before ${modern} ` +
        `${skewRule("minor", policy.legacyMinorSkew)} only`,
      `upgrade the ${role} through ${server.major}.0.x first`,
    );
  }
  return result(
    true,
    `${role} ${cv} is on the last ${client.major}.x minor${assumed}, the release before the server ${sv}: ` +
      `before ${modern} ${skewRule("minor", policy.legacyMinorSkew)}`,
  );
}

/** A compatibility answer with the advice kept apart, so plans and caps can word their own. */
export type LineCheck = CompatResult & { advice: string | undefined };

/** The public answer: the reason, followed by the advice when there is one. */
export function withAdvice(check: LineCheck): CompatResult {
  return {
    compatible: check.compatible,
    reason: check.advice === undefined ? check.reason : `${check.reason}; ${check.advice}`,
  };
}

function prereleaseNote(server: SemVer, client: SemVer): string {
  const pre = [server, client].filter(isPrerelease).map(formatVersion);
  if (pre.length === 0) return "";
  return `; note: ${pre.join(" and ")} ${pre.length === 1 ? "is a pre-release" : "are pre-releases"}, not for production`;
}
