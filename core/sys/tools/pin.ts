/** `upkeep tools pin|unpin`: always run one version, checked against the verified release manifest first. */
import { mkdirSync } from "node:fs";
import { UsageError } from "../../errors.ts";
import { withoutRefusal } from "../../tools/refused.ts";
import type { ToolsState } from "../../tools/types.ts";
import { formatArtifactName } from "../../trust/artifact_name.ts";
import { installableReleases } from "../../trust/manifest.ts";
import { formatVersion } from "../../version/format_version.ts";
import { tryParseVersion } from "../../version/try_parse_version.ts";
import { currentPlatform, fetchVerifiedManifest } from "../install/mod.ts";
import { loadTrustedKeys } from "../keys.ts";
import type { ExecIo } from "./exec_tool.ts";
import { toolsSource } from "./install_tools.ts";
import { isInstalled } from "./installed.ts";
import { toolsDir } from "./paths.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";

type Env = Record<string, string | undefined>;

export interface PinResult {
  state: ToolsState;
  /**
   * How the version was checked: `manifest` (listed in the verified release manifest), `installed` (already
   * here: it runs without the mirror), or `unchecked` (the mirror could not say: pinned with a warning).
   */
  checked: "manifest" | "installed" | "unchecked" | null;
}

/**
 * `tools pin VERSION` (or unpin with undefined). A version is checked first against the verified release
 * manifest of the mirror: one that is not published (or below its floor, or without an artifact for this
 * machine) is refused with the versions that are, instead of failing at the next run. When the mirror cannot
 * say (unreachable, not logged in, a manifest that does not verify), the pin is made with a warning.
 */
export async function pin(
  version: string | undefined,
  env: Env,
  io: Pick<ExecIo, "warn" | "now"> = { warn: () => {}, now: () => new Date() },
): Promise<PinResult> {
  const dir = toolsDir(env);
  let pinned: string | undefined;
  let checked: PinResult["checked"] = null;
  if (version !== undefined) {
    const v = tryParseVersion(version);
    if (!v) throw new UsageError(`invalid version ${JSON.stringify(version)}: expected MAJOR.MINOR.PATCH`);
    pinned = formatVersion(v);
    checked = await checkPin(dir, pinned, env, io);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const state = await updateToolsState(dir, (cur) => {
    // Pinning a refused version forces a retry of it (as `upkeep agent pin` does for a skipped one).
    const next = pinned === undefined ? { ...cur } : withoutRefusal(cur, pinned);
    if (pinned === undefined) delete next.pinned;
    else next.pinned = pinned;
    return next;
  });
  return { state, checked };
}

/** How long `tools pin` waits for the mirror's manifest before pinning unchecked. */
const PIN_CHECK_MS = 15_000;

async function checkPin(
  dir: string,
  version: string,
  env: Env,
  io: Pick<ExecIo, "warn" | "now">,
): Promise<NonNullable<PinResult["checked"]>> {
  if (isInstalled(dir, version)) return "installed";
  const unchecked = (why: string): "unchecked" => {
    io.warn(
      `WARNING: v${version} was not checked against the release manifest (${why}): pinned anyway; the next run installs it if it is published`,
    );
    return "unchecked";
  };
  const { state } = readToolsState(dir);
  let src: ReturnType<typeof toolsSource>;
  try {
    src = toolsSource(state, env);
  } catch (e) {
    return unchecked((e as Error).message);
  }
  const signal = AbortSignal.timeout(PIN_CHECK_MS);
  let manifest: Awaited<ReturnType<typeof fetchVerifiedManifest>>["manifest"];
  try {
    const source = {
      baseUrl: src.baseUrl,
      product: src.product,
      trustedKeys: await loadTrustedKeys(src.keys),
      insecure: state.insecure === true,
    };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    manifest = (
      await fetchVerifiedManifest(source, {
        now: io.now(),
        ...(state.lastSerial === undefined ? {} : { lastSerial: state.lastSerial }),
        workDir: dir,
        signal,
      })
    ).manifest;
  } catch (e) {
    if (signal.aborted) return unchecked(`no answer from ${src.baseUrl} within ${PIN_CHECK_MS / 1000} s`);
    return unchecked((e as Error).message);
  }
  const installable = installableReleases(manifest).map((r) => r.version);
  const published = installable.length ? installable.map((x) => `v${x}`).join(", ") : "none";
  const release = manifest.releases.find((r) => r.version === version);
  if (!release)
    throw new UsageError(`client tools v${version} are not in the ${manifest.product} release manifest`, {
      code: "E_NOT_IN_MANIFEST",
      hint: `published: ${published} (nothing was pinned)`,
    });
  if (!installable.includes(version))
    throw new UsageError(
      `client tools v${version} are below the floor v${manifest.floor} of the ${manifest.product} release manifest`,
      { code: "E_BELOW_FLOOR", hint: `installable: ${published} (nothing was pinned)` },
    );
  const p = currentPlatform();
  const name = formatArtifactName({ product: manifest.product, version, ...p });
  if (!release.artifacts.some((a) => a.name === name)) {
    const here = installableReleases(manifest)
      .filter((r) =>
        r.artifacts.some(
          (a) => a.name === formatArtifactName({ product: manifest.product, version: r.version, ...p }),
        ),
      )
      .map((r) => `v${r.version}`);
    throw new UsageError(`client tools v${version} have no artifact for this machine (${name})`, {
      code: "E_NOT_FOUND",
      hint: `published for ${p.os}-${p.arch}: ${here.join(", ") || "none"} (nothing was pinned)`,
    });
  }
  return "manifest";
}
