/** `upkeep.artifacts_url` (serve --artifacts-url): in the find body only when set, and read back by clients. */
import { expect, test } from "bun:test";
import { findBody, type ServerInfo } from "./find_body.ts";
import { parseFind } from "./parse_find.ts";

const INFO: ServerInfo = {
  product: "hello",
  clusterName: "c",
  edition: "oss",
  fips: false,
  jitterSeconds: 0,
};

test("the find body names where releases are downloaded only when the server says; parseFind reads it", () => {
  const withUrl = findBody({ ...INFO, artifactsUrl: "https://cdn.example.com/r" }, "1.0.0", {
    error: true,
    group: "g",
  });
  expect(withUrl.upkeep.artifacts_url).toBe("https://cdn.example.com/r");
  expect(parseFind(JSON.parse(JSON.stringify(withUrl))).artifactsUrl).toBe("https://cdn.example.com/r");

  const plain = findBody(INFO, "1.0.0", { error: true, group: "g" });
  expect("artifacts_url" in plain.upkeep).toBe(false);
  expect("artifactsUrl" in parseFind(JSON.parse(JSON.stringify(plain)))).toBe(false);
  // Anything but a non-empty string is no advice.
  for (const bad of [42, "", null, ["x"]])
    expect(parseFind({ upkeep: { artifacts_url: bad } }).artifactsUrl).toBeUndefined();
});
