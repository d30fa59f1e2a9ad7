/** `--artifacts-url`, `--artifacts-dir`, `--artifacts-shared` (and their config keys): merged and checked. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isSharedStore, uploadRefusal } from "./artifact_store.ts";
import { artifactsUrlWarning, resolveOptions } from "./serve_options.ts";
import { usageRefusal } from "./test_harness.ts";

function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "upkeep-opts-")), "serve.yaml");
  writeFileSync(path, text);
  return path;
}

describe("--artifacts-url", () => {
  test("absent: downloads stay on this server; the dir is DATA_DIR/artifacts, not shared", () => {
    const o = resolveOptions({ dataDir: "/srv/upkeep" });
    expect(o.artifactsUrl).toBeUndefined();
    expect(o.artifactsDir).toBe("/srv/upkeep/artifacts");
    expect(o.artifactsShared).toBe(false);
  });

  test("an http(s) base URL is kept without its trailing slashes", () => {
    expect(resolveOptions({ artifactsUrl: "https://cdn.example.com/releases/" }).artifactsUrl).toBe(
      "https://cdn.example.com/releases",
    );
    expect(resolveOptions({ artifactsUrl: "https://CDN.example.com" }).artifactsUrl).toBe(
      "https://cdn.example.com",
    );
    expect(resolveOptions({ artifactsUrl: "http://127.0.0.1:8081/r" }).artifactsUrl).toBe(
      "http://127.0.0.1:8081/r",
    );
  });

  test.each([
    ["", "must be an http(s) URL"],
    ["cdn.example.com/releases", "not a URL"],
    ["ftp://cdn.example.com/releases", "not an http(s) URL"],
    ["file:///srv/releases", "not an http(s) URL"],
    ["https://cdn.example.com/r?X-Amz-Signature=abc", "must not have a query or fragment"],
    ["https://cdn.example.com/r#x", "must not have a query or fragment"],
    ["https://cdn.example.com/r?", "must not have a query or fragment"],
  ])("%p is refused: %s", (url, why) => {
    const e = usageRefusal(() => resolveOptions({ artifactsUrl: url }));
    expect(e.message).toContain("--artifacts-url");
    expect(e.message).toContain(why);
    expect(e.exitCode).toBe(2);
  });

  test("a user or password in it is refused, and not repeated in the message", () => {
    for (const url of ["https://deploy:s3cr3t@cdn.example.com/r", "https://token@cdn.example.com/r"]) {
      const e = usageRefusal(() => resolveOptions({ artifactsUrl: url }));
      expect(e.message).toContain("must not hold a user or password");
      expect(e.message).toContain("https://cdn.example.com/r");
      expect(`${e.message} ${e.hint}`).not.toContain("s3cr3t");
      expect(`${e.message} ${e.hint}`).not.toContain("token@");
    }
  });

  test("plain http to a host other than loopback is warned about at start (hosts need --insecure)", () => {
    expect(artifactsUrlWarning({ artifactsUrl: "http://cdn.example.com/r" })).toContain(
      "hosts refuse to download from it unless set up with --insecure",
    );
    for (const ok of [
      "https://cdn.example.com/r",
      "http://127.0.0.1:8081/r",
      "http://localhost/r",
      undefined,
    ])
      expect(artifactsUrlWarning({ artifactsUrl: ok })).toBeUndefined();
  });

  test("the config file's artifacts_url, artifacts_dir and artifacts_shared; flags win", () => {
    const file = configFile(
      "artifacts_url: https://cdn.example.com/a/\nartifacts_dir: /mnt/shared/artifacts\nartifacts_shared: true\n",
    );
    const o = resolveOptions({ config: file });
    expect(o.artifactsUrl).toBe("https://cdn.example.com/a");
    expect(o.artifactsDir).toBe("/mnt/shared/artifacts");
    expect(o.artifactsShared).toBe(true);
    expect(resolveOptions({ config: file, artifactsUrl: "https://b.example.com" }).artifactsUrl).toBe(
      "https://b.example.com",
    );
    const bad = usageRefusal(() => resolveOptions({ config: configFile("artifacts_url: 42\n") }));
    expect(bad.message).toContain("--artifacts-url 42");
  });

  test("artifacts_shared takes true or false only; artifacts_dir a directory name, resolved", () => {
    expect(
      usageRefusal(() => resolveOptions({ config: configFile("artifacts_shared: yes please\n") })).message,
    ).toBe('artifacts_shared "yes please": use true or false');
    expect(
      usageRefusal(() => resolveOptions({ config: configFile("artifacts_dir: ''\n") })).message,
    ).toContain("--artifacts-dir");
    expect(resolveOptions({ artifactsDir: "rel/arts" }).artifactsDir).toBe(resolve("rel/arts"));
  });
});

describe("uploads to this server", () => {
  const layout = {
    artifactsUrl: undefined,
    artifactsDir: "/var/lib/upkeep/artifacts",
    artifactsShared: false,
  };

  test("one server on SQLite takes them, as before", () => {
    expect(uploadRefusal(layout)).toBeUndefined();
    expect(uploadRefusal({ ...layout, store: "/var/lib/upkeep" })).toBeUndefined();
  });

  test("a replica on PostgreSQL refuses them unless its dir is declared shared", () => {
    expect(isSharedStore("postgres://u@db:5432/upkeep")).toBe(true);
    expect(isSharedStore("postgresql://u@db/upkeep")).toBe(true);
    expect(isSharedStore("./data")).toBe(false);
    const r = uploadRefusal({ ...layout, store: "postgres://upkeep@db:5432/upkeep" });
    expect(r?.message).toContain("/var/lib/upkeep/artifacts is not declared shared");
    expect(r?.hint).toContain("--artifacts-shared");
    expect(r?.hint).toContain("--artifacts-url");
    expect(uploadRefusal({ ...layout, store: "postgres://db/u", artifactsShared: true })).toBeUndefined();
  });

  test("with --artifacts-url they go to that URL's storage, unless the dir is declared shared", () => {
    const r = uploadRefusal({ ...layout, artifactsUrl: "https://cdn.example.com/r" });
    expect(r?.message).toContain("hosts download them from --artifacts-url https://cdn.example.com/r");
    expect(r?.hint).toContain("--artifacts-dir DIR --artifacts-shared");
    expect(
      uploadRefusal({ ...layout, artifactsUrl: "https://cdn.example.com/r", artifactsShared: true }),
    ).toBeUndefined();
  });
});
