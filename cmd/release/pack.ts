/** `upkeep release pack`: a folder -> the release tarball named by the artifact template. */
import { UsageError } from "../../core/errors.ts";
import { currentPlatform } from "../../core/sys/install/mod.ts";
import { packRelease } from "../../core/sys/release/pack.ts";
import { isValidProduct } from "../../core/trust/artifact_name.ts";
import { formatVersion, tryParseVersion } from "../../core/version/mod.ts";
import { type JsonFlag, report, warn } from "../output.ts";

export interface PackFlags extends JsonFlag {
  product: string;
  version: string;
  os?: string;
  arch?: string;
  edition: string;
  fips?: boolean;
  out: string;
  force?: boolean;
}

export async function pack(folder: string, opts: PackFlags): Promise<void> {
  if (!isValidProduct(opts.product))
    throw new UsageError(
      `--product ${JSON.stringify(opts.product)}: use lowercase letters, digits and '-' (e.g. hello)`,
    );
  const v = tryParseVersion(opts.version);
  if (!v)
    throw new UsageError(`--version ${JSON.stringify(opts.version)}: not a version (e.g. 1.2.3)`, {
      code: "E_BAD_VERSION",
    });
  const pick = (flag: string, given: string | undefined, allowed: string[], here: () => string) => {
    const value = given ?? here();
    if (!allowed.includes(value))
      throw new UsageError(`${flag} ${JSON.stringify(value)}: one of ${allowed.join(", ")}`);
    return value;
  };
  const os = pick("--os", opts.os, ["linux", "darwin"], () => currentPlatform().os);
  const arch = pick("--arch", opts.arch, ["amd64", "arm64"], () => currentPlatform().arch);
  const edition = pick("--edition", opts.edition, ["oss", "ent"], () => "oss") as "oss" | "ent";
  const r = await packRelease({
    dir: folder,
    out: opts.out,
    product: opts.product,
    version: formatVersion(v),
    os,
    arch,
    edition,
    fips: opts.fips === true,
    force: opts.force === true,
  });
  if (!opts.json) for (const w of r.warnings) warn(`upkeep: warning: ${w}`);
  report(opts, r, (d) => {
    const what = d.outcome === "unchanged" ? "unchanged (the same bytes were there)" : d.outcome;
    return [
      `${d.artifact}: ${what}, ${d.size} bytes, sha256 ${d.sha256}`,
      `  ${d.entries} entries; bin/: ${d.binaries.join(", ")}${d.moved.length ? ` (moved from the top: ${d.moved.join(", ")})` : ""}`,
    ].join("\n");
  });
}
