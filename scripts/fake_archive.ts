/**
 * The archives of scripts/fake-release.ts: the version specs (`1.1.0:flat+unhealthy`, `1.0.0:bad=dotdot`), the
 * tiny POSIX sh daemon `hello`, and the tar entries of a release, malicious ones included, written with the
 * shared ustar writer (core/release/tar_write.ts).
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { createGunzip, gzipSync } from "node:zlib";
import { padding, tarHeader } from "../core/release/tar_write.ts";
import { encodeUtf8 } from "../core/trust/encoding.ts";

export const BAD_KINDS = [
  "abs-path",
  "dotdot",
  "symlink-out",
  "hardlink-out",
  "device",
  "setuid",
  "too-many-files",
  "gzip-bomb",
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export type Behaviour = "ok" | "crash" | "unhealthy" | "badversion";
export type Layout = "bin" | "flat" | "teleport" | "binfile" | "binlink";

export interface VersionSpec {
  version: string;
  behaviour: Behaviour;
  layout: Layout;
  bad?: BadKind;
}

/** `1.0.0`, `2.0.0:crash`, `1.1.0:flat+unhealthy`, `1.0.0:bad=dotdot`. */
export function parseVersionSpec(text: string): VersionSpec {
  const [version = "", flags = ""] = text.split(":", 2);
  const spec: VersionSpec = { version: version.trim(), behaviour: "ok", layout: "bin" };
  for (const f of flags.split("+").filter((x) => x !== "")) {
    if (f === "crash" || f === "unhealthy" || f === "badversion") spec.behaviour = f;
    else if (f === "flat" || f === "teleport" || f === "binfile" || f === "binlink") spec.layout = f;
    else if (f.startsWith("bad=") && (BAD_KINDS as readonly string[]).includes(f.slice(4)))
      spec.bad = f.slice(4) as BadKind;
    else throw new Error(`unknown version flag "${f}" in "${text}"`);
  }
  return spec;
}

/** The daemon script. */
export function helloScript(version: string, behaviour: Behaviour): string {
  return `#!/bin/sh
# hello ${version}: a fake daemon made by upkeep's scripts/fake-release.ts
VERSION="${version}"
BEHAVIOUR="${behaviour}"
cmd="\${1:-serve}"
case "$cmd" in
  version|--version)
    if [ "$BEHAVIOUR" = badversion ]; then echo "hello: broken build" >&2; exit 1; fi
    echo "hello v$VERSION"
    exit 0
    ;;
  health)
    if [ "$BEHAVIOUR" = unhealthy ]; then echo "hello v$VERSION: unhealthy" >&2; exit 1; fi
    echo "hello v$VERSION: healthy"
    exit 0
    ;;
  serve)
    port=""
    if [ "$2" = "--port" ]; then port="$3"; fi
    trap 'exit 0' TERM INT
    if [ -n "$HELLO_STATE" ]; then
      printf '{"version":"%s","pid":%s,"port":"%s"}\\n' "$VERSION" "$$" "$port" > "$HELLO_STATE.tmp.$$"
      mv -f "$HELLO_STATE.tmp.$$" "$HELLO_STATE"
    fi
    echo "hello v$VERSION serving (pid $$)"
    if [ "$BEHAVIOUR" = crash ]; then sleep 1; echo "hello v$VERSION: crashed" >&2; exit 1; fi
    while :; do sleep 1 & wait $!; done
    ;;
  signals)
    n=0
    trap 'n=$((n+1)); echo "hello: SIGINT $n"; if [ $n -ge 3 ]; then exit 0; fi' INT
    trap 'exit 0' TERM
    echo "hello v$VERSION counting SIGINT (pid $$)"
    while :; do sleep 1 & wait $!; done
    ;;
  *)
    echo "usage: hello [version|health|serve --port P|signals]" >&2
    exit 2
    ;;
esac
`;
}

// --- archives: the shared ustar writer (core/release/tar_write.ts), which writes what a safe one never would ---

function* fileEntry(name: string, data: Uint8Array | string, mode = 0o644): Generator<Uint8Array> {
  const bytes = typeof data === "string" ? encodeUtf8(data) : data;
  yield tarHeader({ name, mode, size: bytes.length });
  yield bytes;
  yield padding(bytes.length);
}

function* dirEntry(name: string): Generator<Uint8Array> {
  yield tarHeader({ name: name.endsWith("/") ? name : `${name}/`, mode: 0o755, type: "5" });
}

async function* randomPad(name: string, mib: number): AsyncGenerator<Uint8Array> {
  const size = mib * 1024 * 1024;
  yield tarHeader({ name, mode: 0o644, size });
  for (let i = 0; i < mib; i++) yield new Uint8Array(randomBytes(1024 * 1024));
}

export async function* releaseEntries(
  product: string,
  spec: VersionSpec,
  bad: BadKind | undefined,
  sizeMb: number,
): AsyncGenerator<Uint8Array> {
  const script = helloScript(spec.version, spec.behaviour);
  const readme = `${product} ${spec.version} (fake release for upkeep tests)\n`;
  const top = spec.layout === "flat" ? "" : `${product}/`;
  if (top) yield* dirEntry(top);
  if (spec.layout === "bin") {
    yield* dirEntry(`${top}bin/`);
    yield* fileEntry(`${top}bin/${product}`, script, bad === "setuid" ? 0o4755 : 0o755);
  } else if (spec.layout === "binfile") {
    yield* fileEntry(`${top}bin`, script, 0o755);
  } else if (spec.layout === "binlink") {
    yield* dirEntry(`${top}sbin/`);
    yield* fileEntry(`${top}sbin/${product}`, script, 0o755);
    yield tarHeader({ name: `${top}bin`, type: "2", linkname: "sbin", mode: 0o777 });
  } else {
    yield* fileEntry(`${top}${product}`, script, bad === "setuid" ? 0o4755 : 0o755);
  }
  yield* fileEntry(`${top}README`, readme);
  switch (bad) {
    case "abs-path":
      yield* fileEntry(`/tmp/upkeep-evil-${randomBytes(4).toString("hex")}`, "pwned\n");
      break;
    case "dotdot":
      yield* fileEntry(`${top}../../upkeep-evil`, "pwned\n");
      break;
    case "symlink-out":
      yield tarHeader({ name: `${top}escape`, type: "2", linkname: "../../..", mode: 0o777 });
      yield* fileEntry(`${top}escape/upkeep-evil`, "pwned\n");
      break;
    case "hardlink-out":
      yield tarHeader({ name: `${top}bin/passwd`, type: "1", linkname: "../../etc/passwd" });
      break;
    case "device":
      yield* dirEntry(`${top}dev/`);
      yield tarHeader({ name: `${top}dev/null`, type: "3", mode: 0o666, devmajor: 1, devminor: 3 });
      break;
    case "too-many-files":
      yield* dirEntry(`${top}many/`);
      for (let i = 0; i < 10_001; i++) yield tarHeader({ name: `${top}many/f${i}`, mode: 0o644, size: 0 });
      break;
    default:
      break;
  }
  if (sizeMb > 0) {
    yield* dirEntry(`${top}share/`);
    yield* randomPad(`${top}share/pad.bin`, sizeMb);
  }
}

/** 5 GiB of zeros in one entry, as repeated gzip members of 1 MiB of zeros each: ~5 MiB on disk. */
export async function writeGzipBomb(path: string, product: string, spec: VersionSpec): Promise<void> {
  const out = createWriteStream(path, { mode: 0o644 });
  const write = (b: Uint8Array) =>
    new Promise<void>((r) => (out.write(b) ? r() : out.once("drain", () => r())));
  const size = 5 * 1024 * 1024 * 1024;
  const head: Uint8Array[] = [];
  for await (const c of releaseEntries(product, spec, undefined, 0)) head.push(c);
  head.push(tarHeader({ name: `${product}/bomb`, size }));
  await write(gzipSync(Buffer.concat(head)));
  const member = gzipSync(new Uint8Array(1024 * 1024), { level: 9 });
  for (let i = 0; i < size / (1024 * 1024); i++) await write(member);
  await write(gzipSync(new Uint8Array(1024)));
  await new Promise<void>((r) => out.end(() => r()));
}

/** What a gzip file decompresses to (every member), counted with node's zlib (not the installer's code). */
export async function unpackedBytes(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path).pipe(createGunzip())) n += (chunk as Buffer).length;
  return n;
}
