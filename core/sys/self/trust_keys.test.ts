/** selfTrustKeys unbuilt (bun test): release-keys/*.pub from the repository, no test key, plus the operator's. */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatPublicKey, generateKeyPair, keyIdHex, parsePublicKey } from "../../trust/minisign.ts";
import { hasTestSelfKey, selfTrustKeys } from "./trust_keys.ts";

const REPO_KEYS = join(import.meta.dir, "..", "..", "..", "release-keys");

test("the repository's release keys, and no test key outside a test build", async () => {
  const files = readdirSync(REPO_KEYS).filter((n) => n.endsWith(".pub"));
  expect(files.length).toBeGreaterThan(0);
  const want = files.map((f) => keyIdHex(parsePublicKey(readFileSync(join(REPO_KEYS, f), "utf8")).keyId));
  expect(hasTestSelfKey()).toBe(false);
  expect((await selfTrustKeys([])).map((k) => keyIdHex(k.keyId))).toEqual(want);
});

test("an operator's key is added once; a bad one is refused naming it (E_KEY)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "upkeep-selfkeys-"));
  const { publicKey: pk } = await generateKeyPair();
  const pub = join(dir, "mine.pub");
  writeFileSync(pub, formatPublicKey(pk));
  const keys = await selfTrustKeys([pub, pub]);
  expect(keys.map((k) => keyIdHex(k.keyId))).toContain(keyIdHex(pk.keyId));
  expect(keys.length).toBe((await selfTrustKeys([])).length + 1);
  const bad = join(dir, "bad.pub");
  writeFileSync(bad, "not a key\n");
  await expect(selfTrustKeys([bad])).rejects.toMatchObject({ code: "E_KEY" });
});
