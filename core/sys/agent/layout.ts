/**
 * Where a namespace lives (DESIGN §6):
 *
 *     <install-dir>/<ns>/versions/<version>[_ent][_fips]/   extracted releases (a marker written last)
 *     <install-dir>/<ns>/current -> versions/<...>           the one atomic switch point
 *     <install-dir>/<ns>/update.yaml                         spec + status (0600, atomic writes)
 *     <install-dir>/<ns>/update.lock                         one updater at a time
 *     <install-dir>/<ns>/agent.run.lock                      one `agent run` loop at a time (held while it runs)
 *     <install-dir>/<ns>/control/agent.sock                  control socket of a running `agent run` (folder 0700)
 *     <install-dir>/<ns>/daemon.pid                          the supervised daemon (to stop an orphan)
 *     <bin-dir>/<daemon> -> <install-dir>/<ns>/current/bin/<daemon>
 */
import { readlinkSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { UsageError } from "../../errors.ts";

export const DEFAULT_INSTALL_DIR = "/opt/upkeep";
export const DEFAULT_NAMESPACE = "default";
export const DEFAULT_BIN_DIR = "/usr/local/bin";
export const DEFAULT_SYSTEMD_DIR = "/etc/systemd/system";

export interface Layout {
  installDir: string;
  namespace: string;
  root: string;
  versionsDir: string;
  current: string;
  stateFile: string;
  lockFile: string;
  runLockFile: string;
  socket: string;
  daemonPid: string;
  workDir: string;
}

export function checkNamespace(ns: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(ns))
    throw new UsageError(
      `--namespace ${JSON.stringify(ns)}: use lowercase letters, digits, '-' or '_' (at most 32)`,
    );
  return ns;
}

export function layout(installDir: string | undefined, namespace: string | undefined): Layout {
  const dir = resolve(installDir || process.env.UPKEEP_INSTALL_DIR || DEFAULT_INSTALL_DIR);
  const ns = checkNamespace(namespace || process.env.UPKEEP_NAMESPACE || DEFAULT_NAMESPACE);
  const root = join(dir, ns);
  return {
    installDir: dir,
    namespace: ns,
    root,
    versionsDir: join(root, "versions"),
    current: join(root, "current"),
    stateFile: join(root, "update.yaml"),
    lockFile: join(root, "update.lock"),
    runLockFile: join(root, "agent.run.lock"),
    socket: join(root, "control", "agent.sock"),
    daemonPid: join(root, "daemon.pid"),
    workDir: join(root, "tmp"),
  };
}

/** The versions/ folder name `current` points at, or undefined when there is no link. */
export function currentTarget(l: Layout): string | undefined {
  try {
    return basename(readlinkSync(l.current));
  } catch {
    return undefined;
  }
}
