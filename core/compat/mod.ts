/**
 * Compatibility rules and upgrade plans (DESIGN §1; Teleport's rules from seeds 001, 003 and 004), pure.
 *
 * ```ts
 * import { checkCompat, planUpgrade } from "./core/compat/mod.ts";
 * import { parseVersion } from "./core/version/mod.ts";
 * checkCompat(parseVersion("6.1.0"), parseVersion("5.9.2")).compatible;  // true
 * planUpgrade(parseVersion("5.2.0"), parseVersion("7.1.0"), ["6.0.0", "6.3.1"].map(parseVersion));
 * // [6.3.1, 7.1.0]
 * ```
 */
export * from "./cap_agent_version.ts";
export * from "./check_agent_version.ts";
export * from "./check_compat.ts";
export * from "./default_compat_policy.ts";
export * from "./is_step_compatible.ts";
export * from "./plan_upgrade.ts";
export * from "./types.ts";
