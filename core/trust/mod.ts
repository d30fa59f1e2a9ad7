/**
 * Release trust (DESIGN §5), pure: minisign-compatible keys and signatures, the artifact name template,
 * the signed release manifest and the decisions a host makes before installing. The file-reading
 * entry points that wire these to disk are in core/sys/verify_artifact.ts.
 *
 * ```ts
 * import { formatArtifactName, tryParseArtifactName } from "./core/trust/mod.ts";
 * formatArtifactName({ product: "hello", edition: "ent", version: "1.2.3", os: "linux", arch: "amd64", fips: true });
 * // "hello-ent-v1.2.3-linux-amd64-fips-bin.tar.gz"
 * tryParseArtifactName("hello", "hello-v1.2.3-darwin-arm64-bin.tar.gz")?.version; // "1.2.3"
 * ```
 */
export * from "./artifact_name.ts";
export * from "./build_manifest.ts";
export * from "./checksum_file.ts";
export * from "./manifest.ts";
export * from "./minisign.ts";
export * from "./verify_release.ts";
