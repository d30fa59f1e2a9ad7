/** The real SelfPorts: this build's version and keys, upkeep's own releases from the host's base URL. */

import { UpkeepError } from "../../errors.ts";
import { currentPlatform } from "../install/mod.ts";
import { errorCodeOf } from "../io_error.ts";
import { UPKEEP_VERSION } from "../self/build_info.ts";
import { fetchVerifiedUpdater } from "../self/fetch_updater.ts";
import { selfTrustKeys } from "../self/trust_keys.ts";
import { runWithTimeout } from "./probe.ts";
import type { SelfPorts } from "./self_update.ts";

export function realSelfPorts(): SelfPorts {
  return {
    running: UPKEEP_VERSION,
    executable: process.execPath,
    fetch: async (o) => {
      const p = currentPlatform();
      const r = await fetchVerifiedUpdater({
        baseUrl: o.baseUrl,
        version: o.version,
        os: p.os,
        arch: p.arch,
        keys: await selfTrustKeys(o.selfTrustKeys),
        dest: o.dest,
        state: o.lastSerial > 0 ? { lastSerial: o.lastSerial } : {},
        insecure: o.insecure,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return { serial: r.serial };
    },
    check: checkUpdater,
    now: () => new Date(),
  };
}

/** The real check of a new updater: `--version`, then `agent self-test` (30 s each). */
export async function checkUpdater(
  binary: string,
  version: string,
  where: { installDir: string; namespace: string },
): Promise<void> {
  const run = async (args: string[]) => {
    let r: Awaited<ReturnType<typeof runWithTimeout>>;
    try {
      r = await runWithTimeout([binary, ...args], 30_000);
    } catch (e) {
      throw new UpkeepError("E_SMOKE", `cannot run ${binary}: ${errorCodeOf(e) ?? String(e)}`);
    }
    if (r.timedOut) throw new UpkeepError("E_SMOKE", `${binary} ${args.join(" ")} did not finish in 30 s`);
    // The server out of reach during the self-test says nothing about the new updater: tried again later.
    if (r.code !== 0 && /\((E_NETWORK|E_SERVER)\)/.test(r.stderr))
      throw new UpkeepError(
        "E_NETWORK",
        `${binary} ${args.join(" ")} could not reach the server: ${r.stderr.trim().slice(0, 300)}`,
      );
    if (r.code !== 0)
      throw new UpkeepError(
        "E_SMOKE",
        `${binary} ${args.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      );
    return r.stdout.trim();
  };
  const printed = await run(["--version"]);
  if (printed !== `upkeep ${version}`)
    throw new UpkeepError(
      "E_SMOKE",
      `${binary} --version printed ${JSON.stringify(printed.slice(0, 80))}, not upkeep ${version}`,
    );
  await run(["agent", "self-test", "--install-dir", where.installDir, "--namespace", where.namespace]);
}
