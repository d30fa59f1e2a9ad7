/**
 * extractTarGz on crafted archives: every refusal (with nothing written outside the
 * destination), formats GNU tar writes (ustar, pax, GNU long names), links that are fine, caps, broken
 * archives. The tar reader's and the policy's own tests are beside them (core/install/*.test.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { isUpkeepError } from "../core/errors.ts";
import { gunzippedSize } from "../core/sys/install/extract.ts";
import { extractTarGz } from "../core/sys/install/mod.ts";
import { tar, tarGz, walk } from "./install_helpers.ts";

const ROOT = mkdtempSync(join(tmpdir(), "upkeep-extract-test-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

let n = 0;
/** Extracts `gz` into <case>/dest; returns the case folder (the sentinel: only `dest` and the archive). */
async function extract(gz: Uint8Array, limits?: { maxFiles: number; maxBytes: number }) {
  const c = join(ROOT, `c${++n}`);
  mkdirSync(c);
  const file = join(c, "a.tar.gz");
  writeFileSync(file, gz);
  const dest = join(c, "dest");
  let error: unknown;
  let result: { files: number; bytes: number } | undefined;
  try {
    result = await extractTarGz(file, dest, limits);
  } catch (e) {
    error = e;
  }
  const outside = readdirSync(c).filter((x) => x !== "dest" && x !== "a.tar.gz");
  return { c, dest, error, result, outside };
}

async function refused(
  gz: Uint8Array,
  code: string,
  message?: RegExp,
  limits?: { maxFiles: number; maxBytes: number },
) {
  const r = await extract(gz, limits);
  expect(isUpkeepError(r.error) ? r.error.code : String(r.error)).toBe(code);
  if (message) expect((r.error as Error).message).toMatch(message);
  expect(r.outside).toEqual([]);
  return r;
}

describe("refusals", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["absolute path", tarGz(tar.file("/etc/evil", "x"), tar.end()), /"\/etc\/evil": absolute path/],
    ["dot-dot", tarGz(tar.file("a/../../evil", "x"), tar.end()), /"a\/..\/..\/evil".*"\.\." component/],
    [
      "dot-dot that stays inside is refused too",
      tarGz(tar.file("a/../b", "x"), tar.end()),
      /"\.\." component/,
    ],
    ["absolute symlink", tarGz(tar.symlink("l", "/etc/passwd"), tar.end()), /absolute path/],
    [
      "symlink climbing out",
      tarGz(tar.dir("a"), tar.symlink("a/l", "../../x"), tar.end()),
      /outside the tree/,
    ],
    [
      "symlink climbing after a name (a link could make it leave)",
      tarGz(tar.symlink("l", "a/../.."), tar.end()),
      /climbs with "\.\." after a name/,
    ],
    [
      "chained links: x/y/u -> ../.., then v -> x/y/u/.. (lexically inside, physically out)",
      tarGz(tar.dir("x/y"), tar.symlink("x/y/u", "../.."), tar.symlink("v", "x/y/u/.."), tar.end()),
      /"v".*climbs/,
    ],
    [
      "a file written through a symlink",
      tarGz(tar.dir("d"), tar.symlink("l", "d"), tar.file("l/evil", "x"), tar.end()),
      /"l\/evil".*under "l", which is a symlink/,
    ],
    [
      "a symlink replaced by a folder (duplicate)",
      tarGz(tar.symlink("l", "."), tar.dir("l"), tar.end()),
      /appears twice/,
    ],
    [
      "duplicate file",
      tarGz(tar.file("a", "1"), tar.file("a", "2"), tar.end()),
      /"a": the path appears twice/,
    ],
    ["hardlink out", tarGz(tar.hardlink("h", "../../etc/passwd"), tar.end()), /"h".*"\.\." component/],
    [
      "hardlink absolute",
      tarGz(tar.hardlink("h", "/etc/passwd"), tar.end()),
      /"h": absolute hardlink target/,
    ],
    [
      "hardlink to an entry extracted later",
      tarGz(tar.hardlink("h", "later"), tar.file("later", "x"), tar.end()),
      /not a file extracted before it/,
    ],
    [
      "hardlink to a symlink",
      tarGz(tar.symlink("s", "x"), tar.hardlink("h", "s"), tar.end()),
      /not a file extracted before it/,
    ],
    ["hardlink to a folder", tarGz(tar.dir("d"), tar.hardlink("h", "d"), tar.end()), /not a file/],
    ["character device", tarGz(tar.raw("c", "3"), tar.end()), /character device/],
    ["block device", tarGz(tar.raw("b", "4"), tar.end()), /block device/],
    ["fifo", tarGz(tar.raw("f", "6"), tar.end()), /fifo/],
    ["GNU sparse file", tarGz(tar.raw("s", "S", 512), tar.end()), /unsupported entry type "S"/],
    ["unknown type", tarGz(tar.raw("s", "Z"), tar.end()), /unsupported entry type "Z"/],
    ["setuid", tarGz(tar.file("x", "x", 0o4755), tar.end()), /setuid.*4755/],
    ["setgid", tarGz(tar.file("x", "x", 0o2755), tar.end()), /2755/],
    ["sticky folder", tarGz(tar.dir("d", 0o1777), tar.end()), /1777/],
    ["setgid folder", tarGz(tar.dir("d", 0o2755), tar.end()), /2755/],
    [
      "NUL in a pax path",
      tarGz(tar.pax({ path: "ok\0../../evil" }), tar.file("placeholder", "x"), tar.end()),
      /NUL byte/,
    ],
    [
      "NUL in a GNU long name",
      tarGz(tar.gnuLong("ok\0../../evil"), tar.file("placeholder", "x"), tar.end()),
      /NUL byte/,
    ],
    [
      "pax path escaping (the ustar name is harmless)",
      tarGz(tar.pax({ path: "../../evil" }), tar.file("harmless", "x"), tar.end()),
      /"\.\.\/\.\.\/evil"/,
    ],
    [
      "GNU long name escaping",
      tarGz(
        tar.gnuLong(
          `${"a/".repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../evil`,
        ),
        tar.file("harmless", "x"),
        tar.end(),
      ),
      /"\.\." component/,
    ],
    [
      "pax linkpath escaping",
      tarGz(tar.pax({ linkpath: "/etc/shadow" }), tar.symlink("l", "harmless"), tar.end()),
      /absolute path/,
    ],
    [
      "GNU sparse pax records",
      tarGz(tar.pax({ "GNU.sparse.major": "1" }), tar.file("s", "x"), tar.end()),
      /sparse/,
    ],
    [
      "global pax header setting paths",
      tarGz(tar.pax({ path: "evil" }, "g"), tar.file("a", "x"), tar.end()),
      /global pax header/,
    ],
    ["the completion marker's name", tarGz(tar.file("hello/.upkeep-complete", "{}"), tar.end()), /reserved/],
    [
      "a file under a file",
      tarGz(tar.file("a", "x"), tar.file("a/b", "y"), tar.end()),
      /under "a", which is a file/,
    ],
  ];
  for (const [name, gz, message] of cases) {
    test(name, async () => {
      await refused(gz, "E_UNSAFE_ARCHIVE", message);
    });
  }

  test("too many entries (implied folders count)", async () => {
    const entries = Array.from({ length: 6 }, (_, i) => tar.file(`d/f${i}`, ""));
    await refused(tarGz(...entries, tar.end()), "E_UNSAFE_ARCHIVE", /more than 5 entries/, {
      maxFiles: 5,
      maxBytes: 1e9,
    });
    const r = await extract(tarGz(...entries.slice(0, 4), tar.end()), { maxFiles: 5, maxBytes: 1e9 });
    expect(r.result).toEqual({ files: 5, bytes: 0 });
  });

  test("too many bytes: refused at the header, before the data is written", async () => {
    const big = new Uint8Array(300_000).fill(1);
    const r = await refused(
      tarGz(tar.file("a", big.subarray(0, 100)), tar.file("b", big), tar.end()),
      "E_UNSAFE_ARCHIVE",
      /"b".*exceed 200000 bytes/,
      {
        maxFiles: 100,
        maxBytes: 200_000,
      },
    );
    expect(readdirSync(r.dest)).toEqual(["a"]);
  });

  test("a decompression bomb of metadata (pax headers only) stops at the stream cap", async () => {
    const pax = tar.pax({ comment: "x".repeat(100_000) });
    const gz = tarGz(...Array.from({ length: 40 }, () => pax), tar.file("a", "x"), tar.end());
    const r = await refused(gz, "E_UNSAFE_ARCHIVE", /decompresses to more than/, {
      maxFiles: 2,
      maxBytes: 1000,
    });
    expect(readdirSync(r.dest)).toEqual([]);
  });

  test("an over-sized pax header is E_MALFORMED", async () => {
    await refused(
      tarGz(tar.pax({ comment: "x".repeat(1_100_000) }), tar.file("a"), tar.end()),
      "E_MALFORMED",
      /extended header/,
    );
  });

  test("broken archives: bad checksum, bad number, truncated, not gzip, data on a folder", async () => {
    const h = tar.file("a", "hello");
    const bad = new Uint8Array(h[0] ?? new Uint8Array());
    bad[0] = 0x62; // name changed, checksum not
    await refused(tarGz([bad, ...h.slice(1)], tar.end()), "E_MALFORMED", /checksum/);
    const bad2 = new Uint8Array(h[0] ?? new Uint8Array());
    bad2[124] = 0x39; // a '9' in the octal size
    await refused(tarGz([bad2, ...h.slice(1)], tar.end()), "E_MALFORMED", /checksum|octal/);
    const whole = Buffer.concat(tar.file("a", "x".repeat(5000)).concat(tar.end()));
    await refused(gzipSync(whole.subarray(0, 2000)), "E_MALFORMED", /truncated/);
    const gz = gzipSync(whole);
    await refused(gz.subarray(0, gz.length - 30), "E_MALFORMED");
    await refused(new TextEncoder().encode("not gzip at all"), "E_MALFORMED", /gzip/);
    await refused(tarGz(tar.raw("d/", "5", 10)), "E_MALFORMED", /claims 10 bytes/);
    await refused(
      tarGz(tar.file("a", "x"), [new Uint8Array(512)], tar.file("b", "y"), tar.end()),
      "E_MALFORMED",
      /lone zero block/,
    );
  });

  test("after the end of the archive: an extra gzip member, trailing data or a tar in the padding is refused", async () => {
    const archive = Buffer.concat(tar.file("a", "hello").concat(tar.end()));
    const evil = Buffer.concat(tar.file("evil", "pwned\n").concat(tar.end()));
    // Another gzip member after the archive's: other readers (tar -i, a concatenating gunzip) see "evil".
    const twoMembers = Buffer.concat([gzipSync(archive), gzipSync(evil)]);
    const r = await refused(twoMembers, "E_MALFORMED", /data after the end of the archive/);
    expect(walk(r.dest).includes("evil")).toBe(false);
    // The same entries inside one member, after the end marker.
    await refused(gzipSync(Buffer.concat([archive, evil])), "E_MALFORMED", /after the end of the archive/);
    // Bytes after the gzip stream that are not gzip: the stream does not end cleanly.
    await refused(Buffer.concat([gzipSync(archive), Buffer.from("trailing garbage")]), "E_MALFORMED", /gzip/);
    // Endless zero padding stops at the cap.
    await refused(
      gzipSync(Buffer.concat([archive, Buffer.alloc(2 * 1024 * 1024)])),
      "E_MALFORMED",
      /padding after the end of the archive/,
    );
  });

  test("the manifest's unpacked_size caps the decompressed stream", async () => {
    const gz = tarGz(tar.file("a", "x".repeat(4096)), tar.end());
    const size = gunzipSync(gz).length;
    const c = join(ROOT, "unpacked");
    mkdirSync(c);
    writeFileSync(join(c, "a.tar.gz"), gz);
    const err = await extractTarGz(join(c, "a.tar.gz"), join(c, "small"), undefined, {
      unpackedSize: size - 1,
    }).catch((e) => e as Error);
    expect(isUpkeepError(err) && err.code).toBe("E_MALFORMED");
    expect((err as Error).message).toContain(`more than the ${size - 1} bytes (unpacked_size)`);
    expect(
      await extractTarGz(join(c, "a.tar.gz"), join(c, "exact"), undefined, { unpackedSize: size }),
    ).toEqual({ files: 1, bytes: 4096 });
    expect(await gunzippedSize(join(c, "a.tar.gz"))).toBe(size);
  });

  test("a destination that is not empty is refused", async () => {
    const c = join(ROOT, "nonempty");
    mkdirSync(join(c, "dest"), { recursive: true });
    writeFileSync(join(c, "dest", "x"), "");
    writeFileSync(join(c, "a.tar.gz"), tarGz(tar.file("a"), tar.end()));
    await expect(extractTarGz(join(c, "a.tar.gz"), join(c, "dest"))).rejects.toThrow(/not empty/);
  });
});

describe("accepted", () => {
  test("zero padding after the end marker (GNU tar's records, even in an extra gzip member) is fine", async () => {
    const archive = Buffer.concat(tar.file("a", "hello").concat(tar.end()));
    for (const gz of [
      gzipSync(Buffer.concat([archive, Buffer.alloc(10240 - archive.length)])),
      Buffer.concat([gzipSync(archive), gzipSync(Buffer.alloc(8192))]),
    ]) {
      const r = await extract(gz);
      expect(r.error).toBeUndefined();
      expect(walk(r.dest)).toEqual(["a"]);
    }
  });

  test("links that stay inside, modes, a root ./ entry, duplicate folders, archive without end marker", async () => {
    const gz = tarGz(
      tar.dir("./"),
      tar.dir("rel/bin"),
      tar.dir("rel/bin"),
      tar.file("rel/bin/tool", "#!/bin/sh\necho hi\n", 0o775),
      tar.file("rel/lib/libx.so.1", "lib", 0o666),
      tar.symlink("rel/lib/libx.so", "libx.so.1"),
      tar.symlink("rel/bin/lib", "../lib"),
      tar.symlink("rel/top", "./bin//tool"),
      tar.hardlink("rel/bin/tool2", "rel/bin/tool"),
      tar.file("rel/private", "p", 0o600),
      tar.file("rel/no-perms", "z", 0o000),
    );
    const r = await extract(gz);
    expect(r.error).toBeUndefined();
    expect(walk(r.dest)).toEqual([
      "rel",
      "rel/bin",
      "rel/bin/lib",
      "rel/bin/tool",
      "rel/bin/tool2",
      "rel/lib",
      "rel/lib/libx.so",
      "rel/lib/libx.so.1",
      "rel/no-perms",
      "rel/private",
      "rel/top",
    ]);
    expect(readlinkSync(join(r.dest, "rel/bin/lib"))).toBe("../lib");
    expect(readlinkSync(join(r.dest, "rel/top"))).toBe("bin/tool");
    expect(readFileSync(join(r.dest, "rel/bin/lib/libx.so"), "utf8")).toBe("lib");
    expect(statSync(join(r.dest, "rel/bin/tool")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(r.dest, "rel/lib/libx.so.1")).mode & 0o7777).toBe(0o644);
    expect(statSync(join(r.dest, "rel/private")).mode & 0o7777).toBe(0o600);
    expect(statSync(join(r.dest, "rel/no-perms")).mode & 0o7777).toBe(0o400);
    expect(statSync(join(r.dest, "rel/bin/tool2")).ino).toBe(statSync(join(r.dest, "rel/bin/tool")).ino);
    expect(r.result?.bytes).toBe(18 + 3 + 1 + 1);
  });

  test("pax path and GNU long names beyond 100 characters", async () => {
    const long = `${"d".repeat(90)}/${"e".repeat(90)}/${"f".repeat(90)}.txt`;
    const gz = tarGz(
      tar.pax({ path: long, mtime: "1700000000.5", "SCHILY.xattr.user.x": "y" }),
      tar.file("ignored-name", "pax"),
      tar.gnuLong(`${long}.gnu`),
      tar.file("ignored-too", "gnu"),
      tar.gnuLong(`${long}.link`),
      tar.gnuLong(`${"f".repeat(90)}.txt`, "K"),
      tar.symlink("ignored-link", "ignored-target"),
      tar.pax({ comment: "a global comment" }, "g"),
      tar.end(),
    );
    const r = await extract(gz);
    expect(r.error).toBeUndefined();
    expect(readFileSync(join(r.dest, long), "utf8")).toBe("pax");
    expect(readFileSync(join(r.dest, `${long}.gnu`), "utf8")).toBe("gnu");
    expect(readlinkSync(join(r.dest, `${long}.link`))).toBe(`${"f".repeat(90)}.txt`);
  });

  for (const format of ["gnu", "pax", "ustar"]) {
    test(`what GNU tar --format=${format} writes extracts to the same tree as GNU tar extracts it`, async () => {
      const src = join(ROOT, `src-${format}`);
      const deep = `pkg/${"sub".repeat(20)}/${"name".repeat(15)}`;
      mkdirSync(join(src, deep), { recursive: true });
      mkdirSync(join(src, "pkg/bin"), { recursive: true });
      writeFileSync(join(src, "pkg/bin/tool"), "#!/bin/sh\necho tool\n");
      chmodSync(join(src, "pkg/bin/tool"), 0o755);
      writeFileSync(join(src, deep, "file.txt"), "deep");
      writeFileSync(
        join(src, "pkg/data.bin"),
        new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff),
      );
      symlinkSync("bin/tool", join(src, "pkg/tool"));
      // ustar has no room for a link name over 100 bytes.
      const linkTarget = `../../${"sub".repeat(20)}/${"name".repeat(format === "ustar" ? 5 : 15)}/file.txt`;
      symlinkSync(linkTarget, join(src, "pkg/bin/deep-link"));
      writeFileSync(join(src, "pkg/ünïcode.txt"), "u");
      const archive = join(ROOT, `gnu-${format}.tar.gz`);
      const made = Bun.spawnSync([
        "tar",
        `--format=${format}`,
        "--hard-dereference",
        "-czf",
        archive,
        "-C",
        src,
        "pkg",
      ]);
      if (made.exitCode !== 0) throw new Error(made.stderr.toString());
      const ours = join(ROOT, `ours-${format}`);
      await extractTarGz(archive, ours);
      const theirs = join(ROOT, `theirs-${format}`);
      mkdirSync(theirs);
      expect(Bun.spawnSync(["tar", "-xzf", archive, "-C", theirs]).exitCode).toBe(0);
      expect(walk(ours)).toEqual(walk(theirs));
      for (const p of walk(theirs)) {
        const a = lstatSync(join(ours, p));
        const b = lstatSync(join(theirs, p));
        expect(a.isSymbolicLink()).toBe(b.isSymbolicLink());
        if (b.isSymbolicLink()) expect(readlinkSync(join(ours, p))).toBe(readlinkSync(join(theirs, p)));
        else if (b.isFile()) {
          expect(readFileSync(join(ours, p))).toEqual(readFileSync(join(theirs, p)));
          expect(a.mode & 0o777).toBe(b.mode & 0o755);
        }
      }
    });
  }
});
