/**
 * `upkeep release pack` through the compiled binary: the tarball's name and layout, read back by the system's
 * tar; reproducible bytes; refusals that name the file, leave nothing behind and exit 2 (1 for an artifact
 * that exists with other contents). That a packed release installs through the real agent and the tools
 * shim is test/quickstart.test.ts's job (the README's journey packs its releases with it).
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanup } from "./agent_helpers.ts";
import { upkeep } from "./cli.ts";

const base = mkdtempSync(join(tmpdir(), "upkeep-pack-"));
afterAll(() => cleanup(base));
let n = 0;

/** A fresh folder: FILES maps paths to contents (a leading "x:" makes the file executable). */
function folder(files: Record<string, string>): string {
  const d = join(base, `case-${++n}`);
  mkdirSync(d, { recursive: true });
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(join(d, path, ".."), { recursive: true });
    const exec = body.startsWith("x:");
    writeFileSync(join(d, path), exec ? body.slice(2) : body);
    chmodSync(join(d, path), exec ? 0o750 : 0o640);
  }
  return d;
}

function sh(cmd: string[], cwd?: string): string {
  const r = Bun.spawnSync(cmd, { ...(cwd ? { cwd } : {}), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const pack = (dir: string, extra: string[] = [], out = join(base, "out")) =>
  upkeep(["release", "pack", "--product", "hello", "--version", "1.2.3", "--out", out, ...extra, dir]);

describe("release pack", () => {
  test("a flat folder: executables under bin/, named by the template, readable by tar", async () => {
    const src = folder({
      hello: "x:#!/bin/sh\necho hello 1.2.3\n",
      "README.md": "hi\n",
      "share/doc.txt": "d\n",
    });
    const out = join(base, "flat-out");
    const r = await pack(src, ["--os", "linux", "--arch", "arm64", "--json"], out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.name).toBe("hello-v1.2.3-linux-arm64-bin.tar.gz");
    expect(j.artifact).toBe(join(out, j.name));
    expect(j.moved).toEqual(["hello"]);
    expect(j.binaries).toEqual(["hello"]);
    expect(j.outcome).toBe("written");
    expect(j.sha256).toBe(sh(["sha256sum", j.artifact]).split(" ")[0]);
    // GNU tar's listing: sorted, owner root, 1970, 0755/0644, no top folder.
    const listing = sh(["tar", "-tvzf", j.artifact])
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/))
      .map((f) => [f[0], f[1], f[3], f[5]]);
    expect(listing).toEqual([
      ["-rw-r--r--", "root/root", "1970-01-01", "README.md"],
      ["drwxr-xr-x", "root/root", "1970-01-01", "bin/"],
      ["-rwxr-xr-x", "root/root", "1970-01-01", "bin/hello"],
      ["drwxr-xr-x", "root/root", "1970-01-01", "share/"],
      ["-rw-r--r--", "root/root", "1970-01-01", "share/doc.txt"],
    ]);
    const x = join(base, "flat-x");
    mkdirSync(x);
    sh(["tar", "-xzf", j.artifact, "-C", x]);
    expect(sh([join(x, "bin", "hello")]).trim()).toBe("hello 1.2.3");
    expect(readFileSync(join(x, "share", "doc.txt"), "utf8")).toBe("d\n");
  });

  test("a folder with bin/ is kept as is; ent and fips in the name; text output", async () => {
    const src = folder({
      "bin/hello": "x:#!/bin/sh\n",
      "bin/helper": "x:#!/bin/sh\n",
      "tool.sh": "x:#!/bin/sh\n",
    });
    const out = join(base, "bin-out");
    const r = await pack(src, ["--os", "linux", "--arch", "amd64", "--edition", "ent", "--fips"], out);
    expect(r.code).toBe(0);
    const name = "hello-ent-v1.2.3-linux-amd64-fips-bin.tar.gz";
    expect(r.stdout).toStartWith(`${join(out, name)}: written, `);
    expect(r.stdout).toContain("bin/: hello, helper");
    expect(
      sh(["tar", "-tzf", join(out, name)])
        .trim()
        .split("\n"),
    ).toEqual(["bin/", "bin/hello", "bin/helper", "tool.sh"]);
  });

  test("reproducible: the same files give the same bytes whatever their mtimes and modes", async () => {
    const a = folder({ hello: "x:#!/bin/sh\n", "lib/data": "1234\n", "lib/deep/er": "x\n" });
    symlinkSync("../lib/data", join(a, "lib", "deep", "link"));
    const b = join(base, "copy");
    cpSync(a, b, { recursive: true, verbatimSymlinks: true });
    utimesSync(join(b, "hello"), 1e9, 1e9);
    chmodSync(join(b, "lib", "data"), 0o600);
    chmodSync(join(b, "hello"), 0o700);
    chmodSync(join(b, "lib"), 0o750);
    const r1 = await pack(a, ["--json"], join(base, "repro-1"));
    const r2 = await pack(b, ["--json"], join(base, "repro-2"));
    expect(r1.code).toBe(0);
    expect(r2.code).toBe(0);
    const [j1, j2] = [JSON.parse(r1.stdout), JSON.parse(r2.stdout)];
    expect(j1.sha256).toBe(j2.sha256);
    // gzip header: no name, mtime 0, OS byte 3 (Unix).
    const head = readFileSync(j1.artifact).subarray(0, 10);
    expect([...head.subarray(3, 8)]).toEqual([0, 0, 0, 0, 0]);
    expect(head[9]).toBe(3);
    // Packing again: the same bytes are already there, nothing changes.
    const again = await pack(a, [], join(base, "repro-1"));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("unchanged");
  });

  test("long paths go through pax headers that tar reads", async () => {
    const deep = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(60)}/${"g".repeat(90)}.txt`;
    const src = folder({ hello: "x:#!/bin/sh\n", [deep]: "deep\n" });
    const r = await pack(src, ["--json"], join(base, "long-out"));
    expect(r.code).toBe(0);
    expect(sh(["tar", "-tzf", JSON.parse(r.stdout).artifact])).toContain(`${deep}\n`);
  });

  test("an artifact that exists with other contents: refused (exit 1) unless --force", async () => {
    const src = folder({ hello: "x:#!/bin/sh\necho 1\n" });
    const out = join(base, "exists-out");
    expect((await pack(src, [], out)).code).toBe(0);
    writeFileSync(join(src, "hello"), "#!/bin/sh\necho 2\n");
    const r = await pack(src, [], out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exists with other contents (E_EXISTS)");
    expect(r.stderr).toContain("--force");
    expect(readdirSync(out)).toEqual([expect.stringMatching(/^hello-v1\.2\.3-.*-bin\.tar\.gz$/)]);
    const f = await pack(src, ["--force"], out);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain(": replaced, ");
  });

  test("an --out that cannot be made: E_IO saying it could not be created (not read)", async () => {
    const src = folder({ hello: "x:#!/bin/sh\n" });
    const out = join(base, "out-is-a-file");
    writeFileSync(out, "taken\n");
    const r = await pack(src, [], out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot create ${out}: `);
    expect(r.stderr).toContain("(E_IO)");
  });

  describe("refusals: exit 2, one line naming what is wrong, nothing written", () => {
    const cases: [string, () => { dir: string; args?: string[]; out?: string }, RegExp][] = [
      [
        "a fifo",
        () => {
          const d = folder({ hello: "x:#!/bin/sh\n" });
          sh(["mkfifo", join(d, "pipe")]);
          return { dir: d };
        },
        /cannot pack .*\/pipe: a fifo: a release holds only files, folders and symlinks \(E_UNSAFE_ARCHIVE\)/,
      ],
      [
        "a setuid file",
        () => {
          const d = folder({ "bin/hello": "x:#!/bin/sh\n" });
          chmodSync(join(d, "bin", "hello"), 0o4755);
          return { dir: d };
        },
        /cannot pack .*\/bin\/hello: setuid, setgid or sticky bit \(mode 4755\): hosts refuse such files/,
      ],
      [
        "a symlink leaving the folder",
        () => {
          const d = folder({ hello: "x:#!/bin/sh\n" });
          symlinkSync("../../../etc/passwd", join(d, "passwd"));
          return { dir: d };
        },
        /cannot pack .*\/passwd: hosts would refuse it: symlink target "..\/..\/..\/etc\/passwd" points outside the tree/,
      ],
      [
        "an absolute symlink",
        () => {
          const d = folder({ hello: "x:#!/bin/sh\n" });
          symlinkSync("/etc/passwd", join(d, "passwd"));
          return { dir: d };
        },
        /hosts would refuse it: symlink to the absolute path "\/etc\/passwd"/,
      ],
      [
        "nothing executable",
        () => ({ dir: folder({ "README.md": "hi\n" }) }),
        /nothing to run in .*: no bin\/ folder and no executable file at its top \(E_MALFORMED\)/,
      ],
      [
        "--out inside the folder",
        () => {
          const d = folder({ hello: "x:#!/bin/sh\n" });
          return { dir: d, out: join(d, "dist") };
        },
        /--out .*\/dist is inside .*: the next pack would put this artifact in the release/,
      ],
      [
        "a file instead of a folder",
        () => ({ dir: join(folder({ hello: "x:#!/bin/sh\n" }), "hello") }),
        /is not a folder: pack takes the folder holding the release's files/,
      ],
      ["a missing folder", () => ({ dir: join(base, "nope") }), /nope: no such file/],
      [
        "a bad version",
        () => ({ dir: folder({ hello: "x:#!/bin/sh\n" }), args: ["--version", "1.2"] }),
        /--version "1.2": not a version \(e.g. 1.2.3\) \(E_BAD_VERSION\)/,
      ],
      [
        "a bad os",
        () => ({ dir: folder({ hello: "x:#!/bin/sh\n" }), args: ["--os", "windows"] }),
        /--os "windows": one of linux, darwin/,
      ],
      [
        "a bad arch",
        () => ({ dir: folder({ hello: "x:#!/bin/sh\n" }), args: ["--arch", "x86_64"] }),
        /--arch "x86_64": one of amd64, arm64/,
      ],
      [
        "a bad edition",
        () => ({ dir: folder({ hello: "x:#!/bin/sh\n" }), args: ["--edition", "pro"] }),
        /--edition "pro": one of oss, ent/,
      ],
      [
        "a bad product",
        () => ({ dir: folder({ hello: "x:#!/bin/sh\n" }), args: ["--product", "Hello World"] }),
        /--product "Hello World": use lowercase letters, digits and '-'/,
      ],
    ];
    for (const [what, make, message] of cases) {
      test(what, async () => {
        const c = make();
        const out = c.out ?? join(base, `refused-${++n}`);
        const r = await upkeep([
          "release",
          "pack",
          "--product",
          "hello",
          "--version",
          "1.2.3",
          "--out",
          out,
          ...(c.args ?? []),
          c.dir,
        ]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
        let left: string[] = [];
        try {
          left = readdirSync(out);
        } catch {}
        expect(left).toEqual([]);
      });
    }
  });
});
