/**
 * What `scripts/build.ts` stamps into the executable (Bun.build `define`): the version (`--version V`,
 * default package.json's), the trusted upkeep release public keys (release-keys/*.pub) and, in a test
 * build only, a test key (`--test-self-key PUB`). Unbuilt (`bun test`, `bun main.ts`): package.json's version,
 * no test key, and the keys are read from release-keys/ by trust_keys.ts.
 *
 * Small and import-free but package.json: main.ts loads it on every start (`upkeep --version`).
 */
import { version as packageVersion } from "../../../package.json" with { type: "json" };

declare const UPKEEP_BUILD_VERSION: string | undefined;
declare const UPKEEP_BUILD_RELEASE_KEYS: readonly string[] | undefined;
declare const UPKEEP_BUILD_TEST_SELF_KEY: string | undefined;

/** This executable's version: `upkeep --version` prints it; the agent compares it with `updater_version`. */
export const UPKEEP_VERSION: string =
  typeof UPKEEP_BUILD_VERSION === "string" && UPKEEP_BUILD_VERSION !== ""
    ? UPKEEP_BUILD_VERSION
    : packageVersion;

/** The release-keys/*.pub texts built in, or undefined when not built (read them from the repository). */
export const BUILT_RELEASE_KEYS: readonly string[] | undefined =
  typeof UPKEEP_BUILD_RELEASE_KEYS === "undefined" ? undefined : UPKEEP_BUILD_RELEASE_KEYS;

/** The test key a test build trusts for upkeep's own releases (never set by a normal build). */
export const BUILT_TEST_SELF_KEY: string | undefined =
  typeof UPKEEP_BUILD_TEST_SELF_KEY === "string" && UPKEEP_BUILD_TEST_SELF_KEY !== ""
    ? UPKEEP_BUILD_TEST_SELF_KEY
    : undefined;
