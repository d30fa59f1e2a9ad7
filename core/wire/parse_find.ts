/**
 * Reads a find body (`findBody`, or a Teleport proxy's) for its two readers: the agent and client tools.
 * Each part is checked on its own: a server whose answer is fine for tools but not for agents still serves
 * tools. A part that is wrong is a sentence saying what is wrong (never an update). Pure.
 */
import { formatVersion } from "../version/format_version.ts";
import { tryParseVersion } from "../version/try_parse_version.ts";

/** The parts of the find body the agent uses. */
export interface FindAnswer {
  serverVersion: string;
  agentVersion: string;
  autoUpdate: boolean;
  jitterSeconds: number;
  edition: "oss" | "ent" | "";
  fips: boolean;
  /** `upkeep.artifact`: a name the server suggests (may hold `{os}`/`{arch}` placeholders). */
  artifact: string;
  critical: boolean;
  groupState: string;
  reason: string;
  /** `upkeep.adjusted.why`: the server capped or raised the rollout's version (server_version), or "". */
  adjusted?: string;
}

/** The parts of the find body client tools use. */
export interface ToolsAnswer {
  toolsVersion: string;
  toolsAutoUpdate: boolean;
  /** `upkeep.cache_seconds`: how long the server says its answer may be cached (absent: it does not say). */
  cacheSeconds?: number;
}

/** The server names no tools version yet (no tools target, no server version), and maybe why. */
export interface NoToolsVersion {
  noVersion: true;
  why?: string;
}

export interface FindParse {
  agent: FindAnswer | string;
  tools: ToolsAnswer | NoToolsVersion | string;
  /** `upkeep.artifacts_url`: where the server says releases are downloaded (absent: it does not say). */
  artifactsUrl?: string;
  /**
   * `upkeep.updater_version`: the upkeep version the server wants the agent's updater to run, canonical;
   * absent when the server names none (`""`, an older server, not a version): do not self-update.
   */
  updaterVersion?: string;
}

type Doc = Record<string, unknown>;

const NOT_AN_OBJECT = "the answer is not a JSON object";

/** Parses a find body (JSON already decoded) into the agent's part and the client tools' part. */
export function parseFind(doc: unknown): FindParse {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return { agent: NOT_AN_OBJECT, tools: NOT_AN_OBJECT };
  const d = doc as Doc;
  const au = typeof d.auto_update === "object" && d.auto_update !== null ? (d.auto_update as Doc) : undefined;
  const up = (typeof d.upkeep === "object" && d.upkeep !== null ? d.upkeep : {}) as Doc;
  const artifactsUrl =
    typeof up.artifacts_url === "string" && up.artifacts_url !== "" ? up.artifacts_url : undefined;
  const updaterVersion = version(up.updater_version);
  return {
    agent: agentPart(d, au, up),
    tools: toolsPart(au, up),
    ...(artifactsUrl === undefined ? {} : { artifactsUrl }),
    ...(updaterVersion === undefined ? {} : { updaterVersion }),
  };
}

/** The agent's part of `parseFind`. */
export function parseFindAnswer(doc: unknown): FindAnswer | string {
  return parseFind(doc).agent;
}

function agentPart(d: Doc, au: Doc | undefined, up: Doc): FindAnswer | string {
  if (au === undefined) return "auto_update is missing";
  if (typeof au.agent_auto_update !== "boolean") return "auto_update.agent_auto_update is not a boolean";
  // An upkeep server with no version policy yet names no version, with no update, and says why.
  const none = au.agent_version === "" && au.agent_auto_update === false;
  const agent = version(au.agent_version);
  if (!agent && !none) return "auto_update.agent_version is not a version";
  const jitter = typeof au.agent_update_jitter_seconds === "number" ? au.agent_update_jitter_seconds : 0;
  return {
    serverVersion: version(d.server_version) ?? "",
    agentVersion: agent ?? "",
    autoUpdate: au.agent_auto_update,
    jitterSeconds: Number.isFinite(jitter) ? Math.min(Math.max(0, Math.floor(jitter)), 86_400) : 0,
    // Teleport's editions: `community` (Community Edition) installs the same builds as `oss`.
    edition: d.edition === "ent" ? "ent" : d.edition === "oss" || d.edition === "community" ? "oss" : "",
    fips: d.fips === true,
    artifact: str(up.artifact),
    critical: up.critical === true,
    groupState: str(up.group_state),
    reason: str(up.reason),
    adjusted: typeof up.adjusted === "object" && up.adjusted !== null ? str((up.adjusted as Doc).why) : "",
  };
}

function toolsPart(au: Doc | undefined, up: Doc): ToolsAnswer | NoToolsVersion | string {
  if (au?.tools_version === "" && au.tools_auto_update !== true) {
    // An upkeep server with no tools version yet (no tools target, no server version) names none and says
    // why: not an error of the server, nothing to run from it yet.
    const why =
      typeof up.tools_reason === "string"
        ? up.tools_reason
        : typeof up.reason === "string"
          ? up.reason
          : undefined;
    return { noVersion: true, ...(why === undefined ? {} : { why }) };
  }
  const tools = version(au?.tools_version);
  if (!tools) return "auto_update.tools_version is missing or not a version";
  const cacheSeconds = up.cache_seconds;
  return {
    toolsVersion: tools,
    toolsAutoUpdate: au?.tools_auto_update === true,
    // Kept as given (bounded where it is used): a number of seconds, anything else is no advice.
    ...(typeof cacheSeconds === "number" && Number.isFinite(cacheSeconds) && cacheSeconds >= 0
      ? { cacheSeconds }
      : {}),
  };
}

/** The canonical spelling of a version string, or undefined. */
function version(v: unknown): string | undefined {
  const parsed = typeof v === "string" ? tryParseVersion(v) : undefined;
  return parsed ? formatVersion(parsed) : undefined;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
