/**
 * update.yaml as text: validation with every problem named by its field path, and a stable serialization
 * (keys in a fixed order, snake_case) so the file diffs well and golden tests hold. Pure.
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { MAX_TIMER_MS, tryParseDuration } from "../duration.ts";
import { UpkeepError } from "../errors.ts";
import { isValidProduct } from "../trust/artifact_name.ts";
import { fieldPath, isRecord, type Problem, type ProblemList, report, unknownKeys } from "../validate/mod.ts";
import { formatVersion, tryParseVersion } from "../version/mod.ts";
import {
  type AgentSpec,
  type AgentState,
  type AgentStatus,
  SERVICE_KINDS,
  type ServiceKind,
} from "./types.ts";

export const STATE_FILE_VERSION = 1;
/** The loop's interval when update.yaml names none (files written before it was stored). */
export const DEFAULT_INTERVAL = "5m";
export const STATE_FILE_KIND = "upkeep_agent";
/** update.yaml larger than this is refused (it is a few hundred bytes). */
export const MAX_STATE_FILE_BYTES = 256 * 1024;

export class StateFileError extends UpkeepError {
  readonly problems: Problem[];
  constructor(file: string, problems: Problem[]) {
    const first = problems
      .slice(0, 3)
      .map((p) => `${p.path || "(top)"}: ${p.message}`)
      .join("; ");
    super(
      "E_MALFORMED",
      `${file}: ${first}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ""}`,
      {
        hint: "fix the file by hand, or run `upkeep agent enable` again to rewrite it",
      },
    );
    this.name = "StateFileError";
    this.problems = problems;
  }
}

const VERSION_OR_EMPTY = (v: string) => v === "" || tryParseVersion(v) !== undefined;

type Obj = Record<string, unknown>;

/** Reads the fields of one mapping of update.yaml, each problem named by its full path (`spec.server`). */
class Reader implements ProblemList {
  readonly problems: Problem[] = [];
  constructor(
    private readonly obj: Obj,
    private readonly prefix: string,
  ) {}
  private path(k: string) {
    return fieldPath(this.prefix, k);
  }
  private bad(k: string, message: string) {
    report(this, this.path(k), message);
  }
  str(
    k: string,
    opts: { required?: boolean; max?: number; check?: (v: string) => boolean; what?: string } = {},
  ) {
    const v = this.obj[k];
    if (v === undefined || v === null) {
      if (opts.required) this.bad(k, "is required");
      return "";
    }
    if (typeof v !== "string") {
      this.bad(k, "must be a string");
      return "";
    }
    if (v.length > (opts.max ?? 4096)) {
      this.bad(k, `must be at most ${opts.max ?? 4096} characters`);
      return "";
    }
    if (opts.required && v === "") this.bad(k, "must not be empty");
    else if (opts.check && !opts.check(v)) this.bad(k, `must be ${opts.what ?? "valid"}`);
    return v;
  }
  bool(k: string, dflt: boolean) {
    const v = this.obj[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "boolean") {
      this.bad(k, "must be true or false");
      return dflt;
    }
    return v;
  }
  int(k: string, dflt: number, min: number, max: number) {
    const v = this.obj[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.bad(k, `must be an integer from ${min} to ${max}`);
      return dflt;
    }
    return v;
  }
  strList(k: string, check?: (v: string) => boolean, what?: string) {
    const v = this.obj[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.bad(k, "must be a list of strings");
      return [];
    }
    const out: string[] = [];
    v.forEach((x, i) => {
      if (typeof x !== "string" || (check && !check(x)))
        report(this, fieldPath(this.path(k), i), `must be ${what ?? "a string"}`);
      else out.push(x);
    });
    return out;
  }
  unknown(known: readonly string[]) {
    for (const k of unknownKeys(this.obj, known)) this.bad(k, "unknown field");
  }
}

const isVersion = (v: string) => tryParseVersion(v) !== undefined;
const isUrl = (v: string) => /^https?:\/\/[^\s/]+(\/\S*)?$/.test(v);
const isIso = (v: string) => v === "" || !Number.isNaN(Date.parse(v));
const SPEC_KEYS = [
  "server",
  "product",
  "group",
  "base_url",
  "trust_keys",
  "token",
  "insecure",
  "edition",
  "fips",
  "service",
  "daemon",
  "daemon_args",
  "health_url",
  "health_cmd",
  "health_wait_ms",
  "health_timeout_ms",
  "bin_dir",
  "systemd_dir",
  "interval",
  "enabled",
  "pinned",
  "updater_id",
  "self_update",
  "self_trust_keys",
] as const;
const STATUS_KEYS = [
  "active",
  "backup",
  "skip",
  "skip_by_operator",
  "updating",
  "manifest_serial",
  "last_check",
  "last_result",
  "last_error",
  "last_report_error",
] as const;

/** Validates a parsed update.yaml document; throws StateFileError listing every problem. */
export function checkState(doc: unknown, file = "update.yaml"): AgentState {
  if (!isRecord(doc)) throw new StateFileError(file, [{ path: "", message: "must be a YAML mapping" }]);
  const top = new Reader(doc, "");
  const problems: Problem[] = [];
  if (doc.version !== STATE_FILE_VERSION)
    problems.push({ path: "version", message: `must be ${STATE_FILE_VERSION} (this upkeep's format)` });
  if (doc.kind !== STATE_FILE_KIND) problems.push({ path: "kind", message: `must be ${STATE_FILE_KIND}` });
  top.unknown(["version", "kind", "spec", "status"]);
  const specDoc = isRecord(doc.spec) ? doc.spec : undefined;
  if (!specDoc) problems.push({ path: "spec", message: "must be a mapping" });
  const s = new Reader(specDoc ?? {}, "spec");
  const spec = readSpec(s, specDoc !== undefined);
  const statusDoc = doc.status === undefined || doc.status === null ? {} : doc.status;
  if (!isRecord(statusDoc)) problems.push({ path: "status", message: "must be a mapping" });
  const t = new Reader(isRecord(statusDoc) ? statusDoc : {}, "status");
  const status = readStatus(t, statusDoc);
  problems.push(...top.problems, ...s.problems, ...t.problems);
  if (problems.length > 0) throw new StateFileError(file, problems);
  return { spec, status };
}

/** `spec`, read through `s` (its problems collected there); `given`: the document has a spec mapping. */
function readSpec(s: Reader, given: boolean): AgentSpec {
  const serviceText = s.str("service", {
    required: true,
    check: (v) => (SERVICE_KINDS as string[]).includes(v),
    what: "supervise or systemd",
  });
  const edition = s.str("edition") || "oss";
  if (edition !== "oss" && edition !== "ent") report(s, "spec.edition", "must be oss or ent");
  const spec: AgentSpec = {
    server: s.str("server", { required: true, check: isUrl, what: "an http(s) URL" }),
    product: s.str("product", {
      required: true,
      check: isValidProduct,
      what: "a product name (lowercase letters, digits, -)",
    }),
    group: s.str("group", { max: 64 }),
    baseUrl: s.str("base_url", { required: true, check: isUrl, what: "an http(s) URL" }),
    trustKeys: s.strList(
      "trust_keys",
      (v) => /^RW[A-Za-z0-9+/]{54}$/.test(v),
      "a minisign public key (RW...)",
    ),
    token: s.str("token", { max: 512 }),
    insecure: s.bool("insecure", false),
    edition: edition === "ent" ? "ent" : "oss",
    fips: s.bool("fips", false),
    service: (serviceText || "supervise") as ServiceKind,
    daemon: s.str("daemon", {
      required: true,
      check: (v) => /^[A-Za-z0-9._-]{1,128}$/.test(v) && v !== "." && v !== "..",
      what: "a file name (no /)",
    }),
    daemonArgs: s.strList("daemon_args"),
    healthUrl: s.str("health_url", { check: (v) => v === "" || isUrl(v), what: "an http(s) URL" }),
    healthCmd: s.str("health_cmd"),
    healthWaitMs: s.int("health_wait_ms", 10_000, 0, 3_600_000),
    healthTimeoutMs: s.int("health_timeout_ms", 5_000, 1, 600_000),
    binDir: s.str("bin_dir", { required: true }),
    systemdDir: s.str("systemd_dir"),
    interval:
      s.str("interval", {
        max: 32,
        check: (v) =>
          v === "" || ((tryParseDuration(v) ?? 0) > 0 && (tryParseDuration(v) ?? 0) <= MAX_TIMER_MS),
        what: "a duration such as 5m (at most 24d)",
      }) || DEFAULT_INTERVAL,
    enabled: s.bool("enabled", true),
    pinned: s.bool("pinned", false),
    updaterId: s.str("updater_id", { required: true, max: 128 }),
  };
  // Written only when not the default (files of older upkeeps, and golden files, stay as they were).
  if (s.bool("self_update", true) === false) spec.selfUpdate = false;
  const selfKeys = s.strList(
    "self_trust_keys",
    (v) => /^RW[A-Za-z0-9+/]{54}$/.test(v),
    "a minisign public key (RW...)",
  );
  if (selfKeys.length > 0) spec.selfTrustKeys = selfKeys;
  if (given && spec.trustKeys.length === 0 && !s.problems.some((p) => p.path.startsWith("spec.trust_keys")))
    report(s, "spec.trust_keys", "must list at least one key");
  if (given) s.unknown(SPEC_KEYS);
  return spec;
}

/** `status`, read through `t` (its problems collected there); `statusDoc`: the document's status value. */
function readStatus(t: Reader, statusDoc: unknown): AgentStatus {
  const status: AgentStatus = {
    active: canon(t.str("active", { check: VERSION_OR_EMPTY, what: "a version" })),
    backup: canon(t.str("backup", { check: VERSION_OR_EMPTY, what: "a version" })),
    skip: t.strList("skip", isVersion, "a version").map(canon),
    skipByOperator: t.strList("skip_by_operator", isVersion, "a version").map(canon),
    manifestSerial: t.int("manifest_serial", 0, 0, Number.MAX_SAFE_INTEGER),
    lastCheck: t.str("last_check", { check: isIso, what: "an ISO time" }),
    lastResult: t.str("last_result"),
    lastError: t.str("last_error"),
    lastReportError: t.str("last_report_error"),
  };
  const u = isRecord(statusDoc) ? statusDoc.updating : undefined;
  if (u !== undefined && u !== null) {
    if (!isRecord(u)) report(t, "status.updating", "must be a mapping");
    else {
      const r = new Reader(u, "status.updating");
      const from = canon(r.str("from", { check: VERSION_OR_EMPTY, what: "a version" }));
      const to = canon(r.str("to", { required: true, check: isVersion, what: "a version" }));
      const started = r.str("started", { check: isIso, what: "an ISO time" });
      let rollingBack: { reason: string } | undefined;
      const rb = u.rolling_back;
      if (rb !== undefined && rb !== null) {
        if (!isRecord(rb)) report(r, "status.updating.rolling_back", "must be a mapping");
        else rollingBack = { reason: new Reader(rb, "status.updating.rolling_back").str("reason") };
      }
      r.unknown(["from", "to", "started", "rolling_back"]);
      t.problems.push(...r.problems);
      status.updating = { from, to, started, ...(rollingBack ? { rollingBack } : {}) };
    }
  }
  if (isRecord(statusDoc)) t.unknown(STATUS_KEYS);
  return status;
}

function canon(v: string): string {
  const p = v ? tryParseVersion(v) : undefined;
  return p ? formatVersion(p) : v;
}

/** Parses update.yaml text. */
export function parseState(text: string, file = "update.yaml"): AgentState {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new StateFileError(file, [
      { path: "", message: `not valid YAML: ${(e as Error).message.split("\n")[0]}` },
    ]);
  }
  return checkState(doc, file);
}

/** The document as written: fixed key order, empty optional fields left out of status. */
export function stateDocument(state: AgentState): Obj {
  const s = state.spec;
  const t = state.status;
  const spec: Obj = {
    server: s.server,
    product: s.product,
    group: s.group,
    base_url: s.baseUrl,
    trust_keys: [...s.trustKeys],
    token: s.token,
    insecure: s.insecure,
    edition: s.edition,
    fips: s.fips,
    service: s.service,
    daemon: s.daemon,
    daemon_args: [...s.daemonArgs],
    health_url: s.healthUrl,
    health_cmd: s.healthCmd,
    health_wait_ms: s.healthWaitMs,
    health_timeout_ms: s.healthTimeoutMs,
    bin_dir: s.binDir,
    systemd_dir: s.systemdDir,
    interval: s.interval,
    enabled: s.enabled,
    pinned: s.pinned,
    updater_id: s.updaterId,
  };
  if (s.selfUpdate === false) spec.self_update = false;
  if (s.selfTrustKeys?.length) spec.self_trust_keys = [...s.selfTrustKeys];
  const status: Obj = {
    active: t.active,
    backup: t.backup,
    skip: [...t.skip],
  };
  if (t.skipByOperator.length) status.skip_by_operator = [...t.skipByOperator];
  if (t.updating) {
    const u: Obj = { from: t.updating.from, to: t.updating.to, started: t.updating.started };
    if (t.updating.rollingBack) u.rolling_back = { reason: t.updating.rollingBack.reason };
    status.updating = u;
  }
  status.manifest_serial = t.manifestSerial;
  status.last_check = t.lastCheck;
  status.last_result = t.lastResult;
  status.last_error = t.lastError;
  if (t.lastReportError) status.last_report_error = t.lastReportError;
  return { version: STATE_FILE_VERSION, kind: STATE_FILE_KIND, spec, status };
}

/** update.yaml text: a comment header, then the document. Round-trips through parseState. */
export function formatState(state: AgentState): string {
  return `# upkeep agent: configuration (spec) and state (status) of one namespace.\n# Written atomically by upkeep (mode 0600: it holds the agent token); edit with care.\n${stringifyYaml(stateDocument(state), { lineWidth: 0 })}`;
}

export function emptyStatus(): AgentStatus {
  return {
    active: "",
    backup: "",
    skip: [],
    skipByOperator: [],
    manifestSerial: 0,
    lastCheck: "",
    lastResult: "",
    lastError: "",
    lastReportError: "",
  };
}
