/**
 * The agent's self-update (issue 16, DESIGN §9) around core/agent/self_update.ts's decisions:
 *
 *   decide -> (jitter, in the loop) -> lock updater/ -> keep the running executable as versions/<running>
 *   -> download + verify (upkeep-releases.json, signature, sha256, size) into updater/tmp/<v>/upkeep
 *   -> `upkeep --version` and `upkeep agent self-test` with it -> rename to versions/<v> -> intent in
 *   state.json -> switch `current` (the bin link `<bin-dir>/upkeep` points at current/upkeep) -> hand over
 *   (the loop: supervise re-executes itself in place, systemd restarts upkeep-agent.service)
 *
 * The new updater is on trial until it completes a pass (heartbeat); a starting loop restores the previous
 * one when the trial failed (planSelfStart). Every step has a fault point `self:<step>` (core/sys/fault.ts)
 * for the crash tests. The I/O that depends on the build (the version, the keys, the download of upkeep's
 * own releases) comes in through SelfPorts (self_ports.ts); the updater's folder and state.json are
 * self_layout.ts's.
 */

import { existsSync, lstatSync, readlinkSync, renameSync, statSync } from "node:fs";
import { copyFile, mkdir, rm, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { decideSelfUpdate, type SelfDecision } from "../../agent/self_update.ts";
import type { AgentSpec } from "../../agent/types.ts";
import { isUpkeepError } from "../../errors.ts";
import { sameVersion } from "../../version/same_version.ts";
import { faultPoint } from "../fault.ts";
import { cleanSymlinkLeftovers, switchSymlink } from "../install/mod.ts";
import { errorCodeOf } from "../io_error.ts";
import {
  currentSelfVersion,
  lockSelf,
  readSelfState,
  type SelfLayout,
  selfBinary,
  selfLayout,
  writeSelfState,
} from "./self_layout.ts";

/** Read by `agent status` and the ports (the updater's state.json). */
export { readSelfState, selfLayout } from "./self_layout.ts";

/** The fault points of a self-update, in the order it reaches them. */
export const SELF_FAULT_POINTS = [
  "self:after-keep",
  "self:after-download",
  "self:after-check",
  "self:after-rename",
  "self:after-intent",
  "self:after-switch",
  "self:before-exec",
] as const;

/** What a self-update needs from the build and the network (the real ones: self_ports.ts). */
export interface SelfPorts {
  /** This executable's version (`upkeep --version`). */
  running: string;
  /** This executable's path (kept as versions/<running>/upkeep before the first switch). */
  executable: string;
  /**
   * Downloads upkeep `version` for this platform from `baseUrl` and verifies it (upkeep-releases.json signed
   * by a trusted upkeep key, serial not below `lastSerial`, not below its floor, the version listed, the
   * executable's signature, sha256 and size): the executable at `dest` (0755). Returns the manifest's serial.
   */
  fetch(o: {
    baseUrl: string;
    version: string;
    insecure: boolean;
    selfTrustKeys: string[];
    dest: string;
    lastSerial: number;
    workDir: string;
    signal?: AbortSignal;
  }): Promise<{ serial: number }>;
  /** `<binary> --version` prints `upkeep <version>`, `<binary> agent self-test` exits 0 (else E_SMOKE). */
  check(binary: string, version: string, where: { installDir: string; namespace: string }): Promise<void>;
  now(): Date;
}

export interface SelfContext {
  installDir: string;
  namespace: string;
  spec: AgentSpec;
  ports: SelfPorts;
  log: (m: string) => void;
  signal?: AbortSignal;
}

export type SelfPassResult =
  | { outcome: "none"; reason: string }
  | { outcome: "refused"; target: string; reason: string }
  /** `current` points at `target`: hand over to `binary`. */
  | { outcome: "handover"; target: string; binary: string; reason: string };

/** The decision for this pass (no lock: reads state.json and `current`). */
export async function decideSelf(
  c: SelfContext,
  wanted: string | undefined,
  jitter?: { seconds: number; random: number },
): Promise<SelfDecision> {
  const l = selfLayout(c.installDir);
  const state = await readSelfState(l);
  return decideSelfUpdate({
    running: c.ports.running,
    wanted,
    spec: { enabled: c.spec.enabled, pinned: c.spec.pinned, selfUpdate: c.spec.selfUpdate !== false },
    state,
    current: currentSelfVersion(l),
    ...(jitter ? { jitter } : {}),
  });
}

/**
 * The self-update pass after the product's: install (or just hand over to) the version `decision` names.
 * Never throws for a refused or broken release (the outcome says so, state.json records it).
 */
export async function selfUpdate(c: SelfContext, decision: SelfDecision): Promise<SelfPassResult> {
  if (decision.action === "none") return { outcome: "none", reason: decision.reason };
  const l = selfLayout(c.installDir);
  const lock = await lockSelf(l, 0);
  if (!lock) return { outcome: "none", reason: "another agent loop is updating the updater" };
  try {
    // Decided again under the lock: another loop may have switched meanwhile.
    const again = await decideSelf(c, decision.target);
    if (again.action === "none") return { outcome: "none", reason: again.reason };
    await keepRunning(c, l);
    faultPoint("self:after-keep");
    const target = again.target;
    if (again.action === "install") {
      const refused = await install(c, l, target);
      if (refused) return refused;
    }
    await ensureBinLink(c, l);
    return await switchTo(c, l, target, again.reason);
  } finally {
    lock.release();
  }
}

/**
 * The running executable is kept as versions/<running>/upkeep (the one to restore) and `current` made when
 * there is none (an executable copied by install.sh before any self-update).
 */
async function keepRunning(c: SelfContext, l: SelfLayout): Promise<void> {
  const running = c.ports.running;
  const mine = selfBinary(l, running);
  await mkdir(l.versionsDir, { recursive: true });
  if (!existsSync(mine) && !sameFile(c.ports.executable, mine)) {
    const tmp = join(l.versionsDir, `${running}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await copyFile(c.ports.executable, join(tmp, "upkeep"));
    await import("node:fs/promises").then((f) => f.chmod(join(tmp, "upkeep"), 0o755));
    renameSync(tmp, join(l.versionsDir, running));
    c.log(`updater: kept the running upkeep ${running} as ${mine}`);
  }
  cleanSymlinkLeftovers(l.current);
  if (currentSelfVersion(l) === undefined) await switchSymlink(l.current, join("versions", running));
  const s = await readSelfState(l);
  if (!s.active) await writeSelfState(l, { ...s, active: running });
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** Downloads, verifies and checks `target` into versions/<target>; a refusal when it is not fit. */
async function install(c: SelfContext, l: SelfLayout, target: string): Promise<SelfPassResult | undefined> {
  const final = join(l.versionsDir, target);
  const state = await readSelfState(l, c.log);
  if (existsSync(join(final, "upkeep"))) {
    c.log(`updater: ${target} is already downloaded`);
    return undefined;
  }
  // Downloaded into tmp/<v>/ (a download cut short resumes there), moved into versions/ once checked.
  const binary = join(l.workDir, target, "upkeep");
  try {
    c.log(`updater: downloading upkeep ${target}`);
    const { serial } = await c.ports.fetch({
      baseUrl: c.spec.baseUrl,
      version: target,
      insecure: c.spec.insecure,
      selfTrustKeys: c.spec.selfTrustKeys ?? [],
      dest: binary,
      lastSerial: state.manifestSerial,
      workDir: l.workDir,
      ...(c.signal ? { signal: c.signal } : {}),
    });
    faultPoint("self:after-download");
    if (serial > state.manifestSerial) await writeSelfState(l, { ...state, manifestSerial: serial });
    await c.ports.check(binary, target, { installDir: c.installDir, namespace: c.namespace });
    faultPoint("self:after-check");
  } catch (e) {
    // A refused or broken executable is never run again from here (a partial download stays for a retry).
    await rm(binary, { force: true }).catch(() => {});
    return refuse(c, l, target, e);
  }
  const tmp = `${final}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  renameSync(binary, join(tmp, "upkeep"));
  renameSync(tmp, final);
  faultPoint("self:after-rename");
  return undefined;
}

/** A release that is not fit: recorded; a broken executable (E_SMOKE) is skipped and reported. */
async function refuse(c: SelfContext, l: SelfLayout, target: string, e: unknown): Promise<SelfPassResult> {
  const code = isUpkeepError(e) ? e.code : "E_INTERNAL";
  const reason = `updater ${target}: ${e instanceof Error ? e.message : String(e)} (${code})`;
  const s = await readSelfState(l);
  const skip = code === "E_SMOKE";
  await writeSelfState(l, {
    ...s,
    lastResult: skip
      ? `updater ${target} failed its checks here and is skipped`
      : `updater ${target} refused`,
    lastError: reason,
    ...(skip
      ? {
          skip: s.skip.some((v) => sameVersion(v, target)) ? s.skip : [...s.skip, target],
          failed: { version: target, reason },
        }
      : {}),
  });
  c.log(`updater: ${reason}${skip ? `; ${target} is skipped` : ""}`);
  return { outcome: "refused", target, reason };
}

/** Intent, then the switch of `current`; the caller hands over. */
async function switchTo(c: SelfContext, l: SelfLayout, target: string, why: string): Promise<SelfPassResult> {
  const s = await readSelfState(l, c.log);
  const from = currentSelfVersion(l) ?? c.ports.running;
  if (!sameVersion(from, target)) {
    await writeSelfState(l, {
      ...s,
      updating: { from, to: target, started: c.ports.now().toISOString(), starts: {} },
      lastResult: `switching the updater from ${from} to ${target}`,
      lastError: "",
    });
    faultPoint("self:after-intent");
    await switchSymlink(l.current, join("versions", target));
    faultPoint("self:after-switch");
    c.log(`updater: current -> ${target} (on trial until it completes a pass)`);
  }
  return { outcome: "handover", target, binary: selfBinary(l, target), reason: why };
}

/**
 * The agent's bin link `<bin-dir>/upkeep -> <install-dir>/updater/current/upkeep`: made when there is none,
 * or replacing a link, or the running executable itself (install.sh's copy: kept under versions/). Another
 * file there (a package's upkeep) is left alone.
 */
export async function ensureBinLink(c: SelfContext, l: SelfLayout): Promise<void> {
  const link = join(c.spec.binDir, "upkeep");
  const want = join(l.current, "upkeep");
  let replace = false;
  try {
    const st = lstatSync(link);
    if (st.isSymbolicLink()) {
      if (readlinkSync(link) === want) return;
      replace = true;
    } else if (st.isFile() && sameFile(link, c.ports.executable)) replace = true;
    else {
      c.log(`updater: ${link} is not upkeep's link (left alone); the updater runs from ${want}`);
      return;
    }
  } catch (e) {
    if (errorCodeOf(e) !== "ENOENT") return;
  }
  try {
    await mkdir(c.spec.binDir, { recursive: true });
    const tmp = `${link}.new-${process.pid}`;
    await unlink(tmp).catch(() => {});
    await symlink(want, tmp);
    renameSync(tmp, link);
    if (replace) c.log(`updater: ${link} -> ${want}`);
  } catch (e) {
    c.log(`updater: cannot make ${link}: ${errorCodeOf(e) ?? String(e)}`);
  }
}
