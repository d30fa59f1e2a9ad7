import { describe, expect, test } from "bun:test";
import { UpkeepError } from "../errors.ts";
import { planPack, type SourceEntry } from "./pack_plan.ts";

const exe = (path: string, size = 10): SourceEntry => ({ path, kind: "file", mode: 0o755, size });
const doc = (path: string, size = 5): SourceEntry => ({ path, kind: "file", mode: 0o640, size });
const dir = (path: string): SourceEntry => ({ path, kind: "directory", mode: 0o700, size: 0 });
const link = (path: string, target: string): SourceEntry => ({
  path,
  kind: "symlink",
  mode: 0o777,
  size: 0,
  target,
});

const plan = (entries: SourceEntry[], product = "hello") => planPack(entries, { label: "src", product });

function refusal(entries: SourceEntry[]): { code: string; message: string; exit: number } {
  try {
    plan(entries);
  } catch (e) {
    if (!(e instanceof UpkeepError)) throw e;
    return { code: e.code, message: e.message, exit: e.exitCode };
  }
  throw new Error("not refused");
}

describe("planPack: layout", () => {
  test("top-level executables move into a new bin/; other files stay; modes normalized; sorted", () => {
    const p = plan([doc("README"), exe("hello"), exe("helper"), dir("share"), doc("share/x")]);
    expect(p.entries.map((e) => [e.name, e.mode.toString(8), e.source])).toEqual([
      ["README", "644", "README"],
      ["bin/", "755", ""],
      ["bin/hello", "755", "hello"],
      ["bin/helper", "755", "helper"],
      ["share/", "755", "share"],
      ["share/x", "644", "share/x"],
    ]);
    expect(p.moved).toEqual(["hello", "helper"]);
    expect(p.binaries).toEqual(["hello", "helper"]);
    expect(p.bytes).toBe(5 + 10 + 10 + 5);
    expect(p.warnings).toEqual([]);
  });

  test("a folder with bin/ is kept as is (top-level executables stay where they are)", () => {
    const p = plan([
      dir("bin"),
      exe("bin/hello"),
      exe("setup.sh"),
      dir("lib"),
      link("lib/cur", "../bin/hello"),
    ]);
    expect(p.entries.map((e) => e.name)).toEqual(["bin/", "bin/hello", "lib/", "lib/cur", "setup.sh"]);
    expect(p.moved).toEqual([]);
    expect(p.binaries).toEqual(["hello"]);
  });

  test("a symlink in bin/ counts as something to run", () => {
    const p = plan([dir("bin"), link("bin/hello", "../libexec/hello"), dir("libexec"), exe("libexec/hello")]);
    expect(p.binaries).toEqual(["hello"]);
  });

  test("no bin/PRODUCT: a warning naming --daemon", () => {
    const p = plan([exe("server")]);
    expect(p.warnings).toEqual([
      "no bin/hello: agents run bin/hello unless enabled with --daemon NAME (bin/ has server)",
    ]);
  });

  test("parents sort before their contents (byte order, not locale)", () => {
    const p = plan([dir("a"), doc("a/z"), doc("a-b"), doc("a.txt"), exe("hello"), doc("B")]);
    expect(p.entries.map((e) => e.name)).toEqual(["B", "a-b", "a.txt", "a/", "a/z", "bin/", "bin/hello"]);
  });
});

describe("planPack: refusals name the file and say why", () => {
  const table: [string, SourceEntry[], string, RegExp][] = [
    [
      "a fifo",
      [exe("hello"), { path: "pipe", kind: "other", mode: 0o644, size: 0, what: "a fifo" }],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/pipe: a fifo: a release holds only files, folders and symlinks$/,
    ],
    [
      "a setuid file",
      [dir("bin"), { path: "bin/hello", kind: "file", mode: 0o4755, size: 1 }],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/bin\/hello: setuid, setgid or sticky bit \(mode 4755\)/,
    ],
    [
      "a setgid file",
      [exe("hello"), { path: "data", kind: "file", mode: 0o2644, size: 1 }],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/data: setuid, setgid or sticky bit \(mode 2644\)/,
    ],
    [
      "a symlink out of the tree",
      [exe("hello"), dir("etc"), link("etc/passwd", "../../etc/passwd")],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/etc\/passwd: hosts would refuse it: symlink target "..\/..\/etc\/passwd" points outside the tree$/,
    ],
    [
      "an absolute symlink",
      [exe("hello"), link("conf", "/etc/hello.conf")],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/conf: hosts would refuse it: symlink to the absolute path "\/etc\/hello.conf"$/,
    ],
    [
      "the completion marker's name",
      [exe("hello"), doc(".upkeep-complete")],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/.upkeep-complete: hosts would refuse it: ".upkeep-complete" is reserved/,
    ],
    [
      "a name over 255 bytes",
      [exe("hello"), doc("n".repeat(256))],
      "E_UNSAFE_ARCHIVE",
      /longer than 255 bytes/,
    ],
    [
      "bin that is not a folder",
      [exe("bin")],
      "E_UNSAFE_ARCHIVE",
      /^cannot pack src\/bin: it is not a folder$/,
    ],
    [
      "nothing executable",
      [doc("README"), dir("lib"), exe("lib/x")],
      "E_MALFORMED",
      /^nothing to run in src: no bin\/ folder and no executable file at its top$/,
    ],
    [
      "an empty bin/",
      [dir("bin"), doc("bin/notes")],
      "E_MALFORMED",
      /^nothing to run in src: no executable file in src\/bin\/$/,
    ],
    ["an empty folder", [], "E_MALFORMED", /^nothing to run in src/],
  ];
  for (const [what, entries, code, message] of table) {
    test(what, () => {
      const r = refusal(entries);
      expect(r.code).toBe(code);
      expect(r.message).toMatch(message);
      expect(r.exit).toBe(2);
    });
  }

  test("more entries than hosts accept", () => {
    const many = [exe("hello"), dir("d"), ...Array.from({ length: 10_000 }, (_, i) => doc(`d/f${i}`))];
    expect(refusal(many).message).toMatch(/hosts would refuse it: the archive has more than 10000 entries/);
  });

  test("more bytes than hosts accept", () => {
    const r = refusal([exe("hello"), doc("a", 3 * 1024 ** 3), doc("b", 2 * 1024 ** 3)]);
    expect(r.message).toMatch(
      /^cannot pack src\/b: hosts would refuse it: the archive's files exceed 4294967296 bytes/,
    );
  });
});
