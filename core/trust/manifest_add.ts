/**
 * `upkeep release manifest --add`: the artifacts of a new manifest made from one already published (verified
 * by the caller) plus new artifact files. Pure.
 *
 * A manifest must list every version hosts may install, so a new release keeps the old ones: every artifact
 * listed stays (name, size, sha256, unpacked size), each new file is added, and the floor and critical flags
 * carry over. A file the manifest already lists with the same bytes changes nothing; with other bytes it is
 * refused (hosts may have installed the listed bytes) unless `replace` (a re-publication).
 */
import { UsageError } from "../errors.ts";
import { compareVersions, parseVersion, tryParseVersion } from "../version/mod.ts";
import type { BuildInput } from "./build_manifest.ts";
import type { Manifest } from "./manifest.ts";

export type ArtifactFacts = BuildInput["artifacts"][number];

export interface AddInput {
  /** The manifest in `--out`, verified with the signing key's public half. */
  previous: Manifest;
  /** The files given, with their facts. */
  added: readonly ArtifactFacts[];
  /** Replace an artifact listed with other bytes (`--replace`). */
  replace?: boolean;
  /** `--floor`, else the previous manifest's floor stays. */
  floor?: string;
  /** `--critical`, added to the previous manifest's critical versions. */
  critical?: readonly string[];
}

export interface AddPlan {
  artifacts: ArtifactFacts[];
  floor?: string;
  critical: string[];
  /** Names added, replaced, or already listed with the same bytes. */
  newNames: string[];
  replacedNames: string[];
  unchangedNames: string[];
  /** Versions the previous manifest listed (all kept). */
  keptVersions: string[];
}

const short = (sha: string) => `${sha.slice(0, 16)}...`;

/** @throws {UsageError} naming an artifact listed with other bytes (without `replace`). */
export function planAdd(input: AddInput): AddPlan {
  const byName = new Map<string, ArtifactFacts>();
  for (const r of input.previous.releases)
    for (const a of r.artifacts)
      byName.set(a.name, {
        name: a.name,
        size: a.size,
        sha256: a.sha256,
        ...(a.unpacked_size === undefined ? {} : { unpacked_size: a.unpacked_size }),
      });
  const newNames: string[] = [];
  const replacedNames: string[] = [];
  const unchangedNames: string[] = [];
  for (const a of input.added) {
    const listed = byName.get(a.name);
    if (!listed) {
      newNames.push(a.name);
    } else if (listed.sha256 === a.sha256 && listed.size === a.size) {
      unchangedNames.push(a.name);
      // The same bytes: what was measured now is as good (an unpacked size the old entry lacked is added).
      if (listed.unpacked_size !== undefined && a.unpacked_size === undefined) continue;
    } else if (!input.replace) {
      throw new UsageError(
        `${a.name} is already in the manifest with other bytes (sha256 ${short(listed.sha256)}, ${listed.size} bytes); this file has sha256 ${short(a.sha256)}, ${a.size} bytes`,
        {
          code: "E_CONFLICT",
          hint: "hosts may have installed the listed bytes: release it as a new version, or pass --replace to re-publish it (nothing was written)",
        },
      );
    } else {
      replacedNames.push(a.name);
    }
    byName.set(a.name, a);
  }
  const floor = input.floor ?? input.previous.floor ?? undefined;
  // A critical flag carried over from below a new floor means nothing (no host may install it): dropped.
  // (A bad --floor is refused by buildManifest, naming it.)
  const fv = floor === undefined ? undefined : tryParseVersion(floor);
  const above = (v: string) => fv === undefined || compareVersions(parseVersion(v), fv) >= 0;
  const critical = [
    ...input.previous.releases.filter((r) => r.critical && above(r.version)).map((r) => r.version),
    ...(input.critical ?? []),
  ];
  return {
    artifacts: [...byName.values()],
    ...(floor === undefined ? {} : { floor }),
    critical,
    newNames,
    replacedNames,
    unchangedNames,
    keptVersions: input.previous.releases.map((r) => r.version),
  };
}

/** Versions the `previous` manifest lists that `next` does not (a manifest written without `--add`). */
export function droppedVersions(previous: Manifest, next: Manifest): string[] {
  const kept = new Set(next.releases.map((r) => r.version));
  return previous.releases.map((r) => r.version).filter((v) => !kept.has(v));
}
