/** The Store contract (store_contract.ts): tokens and release artifacts' metadata. */
import { expect, test } from "bun:test";
import type { ReleaseArtifact, TokenRecord } from "./store.ts";
import { at, type Fresh, T0 } from "./store_contract_kit.ts";

/** Tokens by kind and hash; artifacts' metadata by name. */
export function tokensArtifactsContract(fresh: Fresh): void {
  test("tokens: listed by kind, oldest first; a known hash is not added twice; removed by id", async () => {
    const { s } = await fresh();
    const tok = (id: string, kind: TokenRecord["kind"], created: string): TokenRecord => ({
      id,
      kind,
      hash: `hash-${id}`,
      name: `name ${id}`,
      created,
    });
    await s.addToken(tok("t2", "admin", at(2)));
    await s.addToken(tok("t1", "admin", at(1)));
    await s.addToken(tok("t3", "agent", at(3)));
    await s.addToken({ ...tok("t4", "admin", at(4)), hash: "hash-t1" }); // same hash: ignored
    await s.addToken({ ...tok("t1", "viewer", at(5)), hash: "other" }); // same id: ignored
    expect(await s.listTokens("admin")).toEqual([tok("t1", "admin", at(1)), tok("t2", "admin", at(2))]);
    expect(await s.listTokens("agent")).toEqual([tok("t3", "agent", at(3))]);
    expect(await s.listTokens("viewer")).toEqual([]);
    expect(await s.removeTokens(["t1", "t3", "nope"])).toBe(2);
    expect(await s.removeTokens([])).toBe(0);
    expect(await s.listTokens("admin")).toEqual([tok("t2", "admin", at(2))]);
  });

  test("artifacts: metadata by name (sizes above 4 GiB too), replaced by a new upload", async () => {
    const { s } = await fresh();
    const art = (name: string, size: number): ReleaseArtifact => ({
      name,
      size,
      sha256: "ab".repeat(32),
      uploaded: T0,
    });
    expect(await s.listArtifacts()).toEqual([]);
    expect(await s.getArtifact("x")).toBeUndefined();
    await s.putArtifact(art("hello-v1-linux-amd64-bin.tar.gz", 5 * 2 ** 30));
    await s.putArtifact(art("Hello-v1.txt", 3));
    await s.putArtifact(art("hello-v1-linux-amd64-bin.tar.gz", 7));
    expect(await s.listArtifacts()).toEqual([
      art("Hello-v1.txt", 3),
      art("hello-v1-linux-amd64-bin.tar.gz", 7),
    ]);
    expect(await s.getArtifact("Hello-v1.txt")).toEqual(art("Hello-v1.txt", 3));
    await s.putArtifact(art("big", 5 * 2 ** 30));
    expect((await s.getArtifact("big"))?.size).toBe(5 * 2 ** 30);
  });
}
