/**
 * The Updater's ports: everything a pass does outside update.yaml goes through one of these, so unit tests
 * drive the whole update path with fakes (core/sys/agent/updater_path.test.ts) and the real ones are wired
 * here once. The fourth port, the service that runs the daemon, is service.ts's ServiceBackend.
 */
import type { AgentSpec, FindAnswer, PassReport } from "../../agent/mod.ts";
import {
  fetchVerifiedManifest,
  type InstallOptions,
  type InstallResult,
  type InstallSource,
  installVersion,
  isCompleteVersionDir,
  switchSymlink,
  type VerifiedManifest,
} from "../install/mod.ts";
import { type ProbeResult, probe, smokeTest } from "./probe.ts";
import { find, sendReport } from "./server_api.ts";

/** The version server. */
export interface ServerPort {
  /** `GET /v1/webapi/find`: throws E_NETWORK, E_SERVER or E_CANCELLED (never a verdict on a release). */
  find(spec: AgentSpec, signal?: AbortSignal): Promise<FindAnswer>;
  /** `POST /v1/agents/report`: the error text when it was not sent (a report never fails an update). */
  report(spec: AgentSpec, r: PassReport): Promise<string | undefined>;
}

/** The artifact host and the versions folder. */
export interface InstallerPort {
  /** The signed release manifest, verified (throws with the trust library's codes). */
  fetchManifest(
    source: InstallSource,
    o: { now: Date; lastSerial: number; workDir: string; signal?: AbortSignal },
  ): Promise<VerifiedManifest>;
  /** Downloads, verifies and extracts a version (or reuses its complete folder). */
  install(o: InstallOptions): Promise<InstallResult>;
  /** A version folder that is complete (its marker written last). */
  isInstalled(dir: string): boolean;
  /** Points the `current` link at `target` (relative to the link's folder), atomically. */
  switchTo(link: string, target: string): Promise<void>;
}

/** Checks of the daemon's binary and of the running daemon. */
export interface ProbePort {
  /** `<binary> version` exits 0 in time and prints `version` (else E_SMOKE). */
  smokeTest(binary: string, version: string, timeoutMs: number): Promise<void>;
  /** The readiness probe update.yaml names (undefined: none). */
  health(
    spec: Pick<AgentSpec, "healthUrl" | "healthCmd" | "healthTimeoutMs">,
  ): Promise<ProbeResult | undefined>;
}

export interface AgentPorts {
  server: ServerPort;
  installer: InstallerPort;
  probe: ProbePort;
}

/** The real ports: the network, the installer, the versions folder, subprocesses. */
export const realPorts: AgentPorts = {
  server: { find, report: sendReport },
  installer: {
    fetchManifest: fetchVerifiedManifest,
    install: installVersion,
    isInstalled: isCompleteVersionDir,
    switchTo: async (link, target) => {
      await switchSymlink(link, target);
    },
  },
  probe: { smokeTest, health: probe },
};

/**
 * The server port with the updater's part added to every report: the upkeep version this updater runs and a
 * version whose self-update failed here (state.json under `installDir`).
 */
export function withUpdaterFields(server: ServerPort, installDir: string): ServerPort {
  return {
    find: server.find,
    report: async (spec, r) => {
      const { UPKEEP_VERSION } = await import("../self/build_info.ts");
      const { readSelfState, selfLayout } = await import("./self_update.ts");
      const failed = (await readSelfState(selfLayout(installDir))).failed?.version;
      return server.report(spec, {
        ...r,
        updaterVersion: UPKEEP_VERSION,
        ...(failed ? { updaterFailedVersion: failed } : {}),
      });
    },
  };
}
