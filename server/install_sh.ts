/**
 * `GET /scripts/install.sh`: a POSIX sh installer for an agent host. It downloads the upkeep executable and its
 * sha256 from this server, refuses on a checksum mismatch, installs the binary, then runs
 * `upkeep agent enable --server <public URL> ARGS...` with the arguments given after `sh -s --`.
 *
 * With `--artifacts-url` (a CDN) it downloads `upkeep-<os>-<arch>` and its `.sha256` from there instead, and
 * passes `--base-url <artifacts URL>` to `agent enable` before the given arguments (a `--base-url` given
 * there wins): neither the executable nor the releases come through this server.
 *
 * The only values the server injects are its own public URL and the artifacts URL, shell-quoted.
 */

/** Single-quotes a string for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

export function installScript(publicUrl: string, artifactsUrl?: string): string {
  const cdn = artifactsUrl !== undefined;
  return `#!/bin/sh
# upkeep agent installer, served by upkeep serve at ${publicUrl.replace(/[^\w:/.@-]/g, "_")}
# Usage: curl -fsSL <server>/scripts/install.sh | sh -s -- --product NAME --base-url URL --trust-key KEY [--group G] ...
# Environment: UPKEEP_BIN_DIR (default /usr/local/bin), UPKEEP_INSTALL_ONLY=1 (install, do not enable).
set -eu

UPKEEP_SERVER=${shQuote(publicUrl)}
${
  cdn
    ? `UPKEEP_ARTIFACTS=${shQuote(artifactsUrl)}
`
    : ""
}BIN_DIR="\${UPKEEP_BIN_DIR:-/usr/local/bin}"

fail() { echo "upkeep install: $*" >&2; exit 1; }

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "unsupported operating system: $(uname -s) (supported: Linux, Darwin)" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "unsupported architecture: $(uname -m) (supported: x86_64, aarch64)" ;;
esac

fetch() { # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then
    # Bounded: 10 s to connect, give up below 1 KiB/s for 60 s, 30 min in all, at most 512 MiB.
    curl -fsSL --proto '=https,http' --connect-timeout 10 --speed-limit 1024 --speed-time 60 --max-time 1800 \\
      --max-filesize 536870912 -o "$2" "$1" || fail "download failed: $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q --timeout=60 --tries=2 -O "$2" "$1" || fail "download failed: $1"
  else
    fail "neither curl nor wget is installed"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else fail "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

# Before downloading 100 MB: can the binary go where it should?
mkdir -p -m 0755 "$BIN_DIR" 2>/dev/null || fail "cannot create $BIN_DIR: run as root, or set UPKEEP_BIN_DIR to a directory you can write"
[ -w "$BIN_DIR" ] || fail "cannot write to $BIN_DIR: run as root, or set UPKEEP_BIN_DIR to a directory you can write"

tmp="$(mktemp -d "\${TMPDIR:-/tmp}/upkeep-install.XXXXXX")"
new="$BIN_DIR/.upkeep.new.$$"
cleanup() { rm -rf "$tmp" "$new"; }
# Interrupted: clean up and stop (a trap that only cleaned up would let the script carry on).
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

name="upkeep-$os-$arch"
${
  cdn
    ? `echo "upkeep install: downloading $name from $UPKEEP_ARTIFACTS (the server's --artifacts-url)" >&2
fetch "$UPKEEP_ARTIFACTS/$name" "$tmp/upkeep"
fetch "$UPKEEP_ARTIFACTS/$name.sha256" "$tmp/upkeep.sha256"`
    : `echo "upkeep install: downloading $name from $UPKEEP_SERVER" >&2
fetch "$UPKEEP_SERVER/download/$name" "$tmp/upkeep"
fetch "$UPKEEP_SERVER/download/$name.sha256" "$tmp/upkeep.sha256"`
}
want="$(cut -d' ' -f1 <"$tmp/upkeep.sha256")"
got="$(sha256_of "$tmp/upkeep")"
case "$want" in
  *[!0-9a-f]* | "") fail "the server sent a malformed checksum for $name" ;;
esac
[ "\${#want}" -eq 64 ] || fail "the server sent a malformed checksum for $name"
[ "$want" = "$got" ] || fail "checksum mismatch for $name: expected $want, got $got; nothing was installed"

# Atomic replace: copy beside the target (0755 whatever the umask), then rename over it. A failed copy
# (disk full) leaves nothing behind: the EXIT trap removes the partial file.
cp "$tmp/upkeep" "$new"
chmod 0755 "$new"
mv -f "$new" "$BIN_DIR/upkeep"
echo "upkeep install: installed $BIN_DIR/upkeep ($got)" >&2

if [ "\${UPKEEP_INSTALL_ONLY:-0}" = "1" ]; then
  exit 0
fi
# exec replaces this shell, so the EXIT trap would never run: clean up first.
cleanup
trap - EXIT INT TERM
exec "$BIN_DIR/upkeep" agent enable --server "$UPKEEP_SERVER" ${cdn ? '--base-url "$UPKEEP_ARTIFACTS" ' : ""}"$@"
`;
}
