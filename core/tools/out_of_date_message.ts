import { compareVersions } from "../version/compare_versions.ts";
import { parseVersion } from "../version/parse_version.ts";

export type OutOfDateInput = {
  tool: string;
  /** The version that will run. */
  running: string;
  /** The version the cluster names. */
  cluster: string;
  /** The user is enrolled into automatic updates. */
  enrolled: boolean;
  /** The cluster's answer says tools follow it automatically (`tools_auto_update`). */
  autoUpdate: boolean;
};

/**
 * The warning when the version that runs is not the cluster's (RFC 0144's "Your version of tsh is out of
 * date"), with advice that actually changes what runs: older or newer, and why it is not followed.
 */
export function outOfDateMessage(i: OutOfDateInput): string {
  const newer = compareVersions(parseVersion(i.running), parseVersion(i.cluster)) > 0;
  const head = newer
    ? `Your version of ${i.tool} (v${i.running}) is newer than the cluster's (v${i.cluster}).`
    : `Your version of ${i.tool} is out of date: the cluster runs v${i.cluster}, this is v${i.running}.`;
  if (!i.autoUpdate) {
    // Enrolling would change nothing: the cluster itself does not want its tools followed automatically.
    return `${head} The cluster has turned off automatic client tools updates; \`upkeep tools pin ${i.cluster}\` runs its version.`;
  }
  return newer
    ? `${head} \`upkeep tools pin ${i.cluster}\` runs the cluster's version.`
    : `${head} Some functionality may not work. Run \`upkeep tools login\` to enroll into automatic updates, or \`upkeep tools pin ${i.cluster}\`.`;
}
