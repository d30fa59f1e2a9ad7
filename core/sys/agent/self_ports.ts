/** The real SelfPorts: this build's version and keys, upkeep's own releases from the host's base URL. */
import { currentPlatform } from "../install/mod.ts";
import { UPKEEP_VERSION } from "../self/build_info.ts";
import { fetchVerifiedUpdater } from "../self/fetch_updater.ts";
import { selfTrustKeys } from "../self/trust_keys.ts";
import { checkUpdater, type SelfPorts } from "./self_update.ts";

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
