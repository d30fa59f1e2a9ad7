/**
 * Builds the single self-contained executable `dist/upkeep` with `bun build --compile`.
 *
 *     bun scripts/build.ts [--target bun-linux-x64] [--outfile dist/upkeep] [--version V] [--test-self-key PUB]
 *
 * Stamped in (core/sys/self/build_info.ts):
 * - the version `upkeep --version` prints: `--version V` or env UPKEEP_BUILD_VERSION (semver, a leading `v`
 *   dropped), default package.json's;
 * - upkeep's trusted release public keys: every release-keys/*.pub (minisign format), which verify upkeep's
 *   own releases (`upkeep-releases.json`, `upkeep-v<version>-<os>-<arch>`) for the agent's self-update and
 *   `upkeep self-update`;
 * - for tests only, `--test-self-key PUB` or env UPKEEP_BUILD_TEST_SELF_KEY: one more trusted key. A normal
 *   build (without it) never trusts it. The output says so on its last line.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parsePublicKey } from "../core/trust/minisign.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { compileOptions } from "./compile_options.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    outfile: { type: "string", default: "dist/upkeep" },
    version: { type: "string" },
    "test-self-key": { type: "string" },
  },
});
const root = resolve(import.meta.dir, "..");
const outfile = resolve(root, values.outfile ?? "dist/upkeep");

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(2);
}

/** The version to stamp, canonical (undefined: package.json's). */
function stampedVersion(): string | undefined {
  const given = values.version ?? process.env.UPKEEP_BUILD_VERSION;
  if (given === undefined || given === "") return undefined;
  const v = tryParseVersion(given);
  if (!v) fail(`--version ${given}: not a semver version (like 1.2.3)`);
  return formatVersion(v);
}

/** A minisign public key file's text, checked. */
function publicKeyText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    fail(`cannot read the public key ${path}: ${(e as Error).message}`);
  }
  try {
    parsePublicKey(text);
  } catch (e) {
    fail(`${path} is not a minisign public key: ${(e as Error).message}`);
  }
  return text;
}

/** release-keys/*.pub, each checked, in name order. */
function releaseKeys(): string[] {
  const dir = join(root, "release-keys");
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".pub"))
    .sort();
  return names.map((n) => publicKeyText(join(dir, n)));
}

const version = stampedVersion();
const testKeyPath = values["test-self-key"] ?? process.env.UPKEEP_BUILD_TEST_SELF_KEY;
const testKey = testKeyPath ? publicKeyText(resolve(testKeyPath)) : undefined;
const keys = releaseKeys();
const define: Record<string, string> = {
  UPKEEP_BUILD_RELEASE_KEYS: JSON.stringify(keys),
  ...(version === undefined ? {} : { UPKEEP_BUILD_VERSION: JSON.stringify(version) }),
  ...(testKey === undefined ? {} : { UPKEEP_BUILD_TEST_SELF_KEY: JSON.stringify(testKey) }),
};

mkdirSync(dirname(outfile), { recursive: true });
const result = await Bun.build(
  compileOptions(
    resolve(root, "main.ts"),
    outfile,
    values.target as Bun.Build.CompileTarget | undefined,
    define,
  ),
);
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(
  `built ${outfile}${version ? ` (version ${version})` : ""}: ${keys.length} release key(s)${testKey ? `, TEST key ${testKeyPath} (a test build)` : ""}`,
);
