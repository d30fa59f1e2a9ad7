/**
 * The agent's state file, `<install-dir>/<ns>/update.yaml` (DESIGN §6): `spec` is what the operator set at
 * `enable` (and `pin`/`disable` change), `status` is what the updater knows. Plain data; pure.
 */

export type ServiceKind = "supervise" | "systemd";
export const SERVICE_KINDS: readonly ServiceKind[] = ["supervise", "systemd"];

export interface AgentSpec {
  /** The version server, e.g. `https://upkeep.example.com`. */
  server: string;
  /** Product name: the artifact template's `{product}` and the manifest `<product>-releases.json`. */
  product: string;
  /** Rollout group (empty: the server treats the agent as the last group). */
  group: string;
  /** Where artifacts and the manifest are downloaded from; set on the host, never by the server. */
  baseUrl: string;
  /** Trusted minisign public keys (base64, `RW...`), several for rotation. */
  trustKeys: string[];
  /** Agent token for `POST /v1/agents/report` (empty: reports are not sent). */
  token: string;
  /** Allow plain http to a host that is not loopback. */
  insecure: boolean;
  edition: "oss" | "ent";
  fips: boolean;
  service: ServiceKind;
  /** The daemon's executable name inside `bin/` of a release. */
  daemon: string;
  daemonArgs: string[];
  /** Optional readiness probe: an HTTP URL (2xx is ready) or a shell command (exit 0 is ready). */
  healthUrl: string;
  healthCmd: string;
  /** How long the daemon is watched after a restart (ms). */
  healthWaitMs: number;
  /** Time limit of one readiness probe and of the smoke test (ms). */
  healthTimeoutMs: number;
  /** Where `<daemon>` links are made (`<bin-dir>/<daemon> -> <ns>/current/bin/<daemon>`). */
  binDir: string;
  /** systemd only: where units are written. */
  systemdDir: string;
  /** Time between `agent run` passes as written at enable (e.g. `5m`); `agent run --interval` overrides it. */
  interval: string;
  enabled: boolean;
  /** Pinned: no update from the server; `active` stays. */
  pinned: boolean;
  /** A random UUID made at enable; how the server tells this updater from others. */
  updaterId: string;
  /** The agent updates its own executable when the server names an updater version (default true). */
  selfUpdate?: boolean;
  /** The operator's own keys for upkeep's releases (`--self-trust-key`), beside the built-in ones. */
  selfTrustKeys?: string[];
}

/** An update in progress: written before `current` is switched, cleared once health is settled. */
export interface UpdateIntent {
  from: string;
  to: string;
  /** ISO time the switch was decided. */
  started: string;
  /** Set before a failed update is switched back: the version to skip and why. */
  rollingBack?: { reason: string };
}

export interface AgentStatus {
  /** Version `current` points at (the daemon runs it). */
  active: string;
  /** The previous good version, kept for `rollback`. */
  backup: string;
  /** Versions that failed here and are never tried again automatically. */
  skip: string[];
  /**
   * The part of `skip` an operator chose (`agent rollback` left the version), not a failure of the release:
   * reported to the server as skipped, never as a failed version.
   */
  skipByOperator: string[];
  updating?: UpdateIntent;
  /** Highest release manifest serial seen (a lower one is a rollback attack). */
  manifestSerial: number;
  lastCheck: string;
  lastResult: string;
  lastError: string;
  /** Why the last report to the server failed (empty: it was sent); cleared by the next one sent. */
  lastReportError: string;
}

export interface AgentState {
  spec: AgentSpec;
  status: AgentStatus;
}

/** `upkeep agent status --json`. */
export interface StatusView {
  enabled: boolean;
  pinned: boolean;
  active: string | null;
  backup: string | null;
  skip: string[];
  group: string;
  server: string;
  updater_id: string;
  last_check: string | null;
  last_result: string | null;
  last_error: string | null;
  /** The last report to the server that failed (null: the last one was sent). */
  last_report_error: string | null;
  /** Extras beyond the shape. */
  namespace: string;
  service: ServiceKind;
  updating: { from: string; to: string } | null;
  /** The agent's own executable (issue 16): absent before the updater's folder exists. */
  updater?: UpdaterView;
}

/** `agent status`: the updater itself. */
export interface UpdaterView {
  /** The upkeep version this command runs as. */
  running: string;
  /** The committed updater version (state.json), null before any. */
  active: string | null;
  backup: string | null;
  skip: string[];
  /** A switch on trial (not yet committed by a pass of the new updater). */
  updating: { from: string; to: string } | null;
  failed: { version: string; reason: string } | null;
  self_update: boolean;
}
