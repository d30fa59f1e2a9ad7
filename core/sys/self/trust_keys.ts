/**
 * The public keys upkeep's own releases must be signed by (DESIGN §9): the release keys built into the
 * executable (release-keys/*.pub, stamped by scripts/build.ts), the test key of a test build (never in a
 * normal build), and the operator's own (`agent enable --self-trust-key PUB`: a fork, an internal build).
 * The product's trust keys are never among them: a product key cannot sign an updater.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UpkeepError } from "../../errors.ts";
import { type PublicKey, parsePublicKey } from "../../trust/minisign.ts";
import { loadTrustedKeys } from "../keys.ts";
import { BUILT_RELEASE_KEYS, BUILT_TEST_SELF_KEY } from "./build_info.ts";

/** The repository's release-keys/ folder, for an unbuilt run (`bun test`, `bun main.ts`). */
const REPO_KEYS_DIR = join(import.meta.dir, "..", "..", "..", "release-keys");

/** The release-keys/*.pub texts: built in, or (unbuilt) read from the repository. */
function releaseKeyTexts(): readonly string[] {
  if (BUILT_RELEASE_KEYS !== undefined) return BUILT_RELEASE_KEYS;
  let names: string[];
  try {
    names = readdirSync(REPO_KEYS_DIR)
      .filter((n) => n.endsWith(".pub"))
      .sort();
  } catch {
    return [];
  }
  return names.map((n) => readFileSync(join(REPO_KEYS_DIR, n), "utf8"));
}

function parseBuiltIn(text: string, what: string): PublicKey {
  try {
    return parsePublicKey(text);
  } catch (e) {
    throw new UpkeepError(
      "E_INTERNAL",
      `${what} built into this upkeep does not parse: ${(e as Error).message}`,
    );
  }
}

/** Whether this executable was built with a test key (`scripts/build.ts --test-self-key`). */
export function hasTestSelfKey(): boolean {
  return BUILT_TEST_SELF_KEY !== undefined;
}

/**
 * The keys upkeep's own releases may be signed by: the built-in release keys, the build's test key (a test
 * build only) and the operator's `extraPubFiles` (minisign `.pub` files or bare keys; a bad one is E_KEY,
 * exit 2, naming it). Duplicates are kept once.
 */
export async function selfTrustKeys(extraPubFiles: string[]): Promise<PublicKey[]> {
  const keys = releaseKeyTexts().map((t) => parseBuiltIn(t, "a release key"));
  if (BUILT_TEST_SELF_KEY !== undefined) keys.push(parseBuiltIn(BUILT_TEST_SELF_KEY, "the test key"));
  if (extraPubFiles.length > 0) keys.push(...(await loadTrustedKeys(extraPubFiles)));
  const seen = new Set<string>();
  return keys.filter((k) => {
    const id = Buffer.from(k.keyId).toString("hex") + Buffer.from(k.key).toString("hex");
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
