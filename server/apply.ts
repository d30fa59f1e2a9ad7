/**
 * Applying resources (`POST /v1/apply`, and the single-resource PUT routes): every document is validated
 * first, then what the whole set would tell each group is planned over the live state (core planAnswers),
 * and a set that names a version hosts or developers cannot install from this server's published manifest
 * is refused (unless forced: artifacts hosted elsewhere). Nothing is stored before every check passed; a
 * dry run stops there and answers the plan.
 */
import { UpkeepError } from "../core/errors.ts";
import {
  type AutoupdateConfig,
  type AutoupdateVersion,
  BadResourceError,
  droppedSections,
  parseAutoupdateConfig,
  parseAutoupdateVersion,
} from "../core/resources/mod.ts";
import type { AnswerPlan, PlanAnswers } from "../core/rollout/mod.ts";
import { SELF_PRODUCT } from "../core/trust/artifact_name.ts";
import { manifestFileName } from "../core/trust/manifest.ts";
import { formatVersion, tryParseVersion } from "../core/version/mod.ts";
import { type RolloutService, UPDATER_AUTO, UPDATER_OFF } from "./rollout_service.ts";

export const APPLY_KINDS = ["autoupdate_config", "autoupdate_version", "server"] as const;
export type ApplyKind = (typeof APPLY_KINDS)[number];

/** At most this many documents in one apply. */
export const MAX_APPLY_DOCUMENTS = 20;

export type ParsedDoc = (
  | { kind: "autoupdate_config"; config: AutoupdateConfig }
  | { kind: "autoupdate_version"; version: AutoupdateVersion }
  | {
      kind: "server";
      /** Absent: unchanged. */
      serverVersion?: string;
      /** `auto`, `off` or a canonical version; absent: unchanged. */
      updaterVersion?: string;
    }
) & {
  /** The document as sent (to see which sections it leaves out). */
  raw: unknown;
  /** Its place in a set (`POST /v1/apply`), named in refusals; none for a single PUT. */
  index?: number;
};

export interface ApplyOptions {
  dryRun: boolean;
  force: boolean;
}

/**
 * Validates one document of a known kind. `kind: server` takes `server_version` and/or `updater_version`
 * (a version, `off`, or `auto`: this server's own version when published), at the top or under `spec`.
 *
 * @throws {BadResourceError} naming the field.
 */
export function parseDoc(kind: ApplyKind, doc: unknown): ParsedDoc {
  if (kind === "autoupdate_config") return { kind, config: parseAutoupdateConfig(doc), raw: doc };
  if (kind === "autoupdate_version") return { kind, version: parseAutoupdateVersion(doc), raw: doc };
  const d = (doc && typeof doc === "object" ? doc : {}) as Record<string, unknown>;
  const spec = d.spec && typeof d.spec === "object" ? (d.spec as Record<string, unknown>) : {};
  const rawServer = d.server_version ?? spec.server_version;
  const rawUpdater = d.updater_version ?? spec.updater_version;
  if (rawServer === undefined && rawUpdater === undefined) {
    throw new BadResourceError("server", [
      {
        path: "server_version",
        message:
          "set server_version (a version such as 17.0.1) and/or updater_version (a version, off or auto)",
      },
    ]);
  }
  const parsed: ParsedDoc & { kind: "server" } = { kind, raw: doc };
  if (rawServer !== undefined) {
    const v = typeof rawServer === "string" ? tryParseVersion(rawServer) : undefined;
    if (!v) {
      throw new BadResourceError("server", [
        { path: "server_version", message: "must be a semver version such as 17.0.1" },
      ]);
    }
    parsed.serverVersion = formatVersion(v);
  }
  if (rawUpdater !== undefined) parsed.updaterVersion = updaterSetting(rawUpdater);
  return parsed;
}

/** `updater_version`: `auto`, `off` or a version (canonical). */
function updaterSetting(raw: unknown): string {
  if (raw === UPDATER_AUTO || raw === UPDATER_OFF) return raw;
  const v = typeof raw === "string" ? tryParseVersion(raw) : undefined;
  if (!v) {
    throw new BadResourceError("server", [
      {
        path: "updater_version",
        message: `must be an upkeep version such as 1.2.3, "${UPDATER_OFF}" (no self-update) or "${UPDATER_AUTO}" (this server's own version)`,
      },
    ]);
  }
  return formatVersion(v);
}

/** Reads `{resources: [...]}`: each a mapping with a known `kind`, validated. */
export function parseApplyBody(body: unknown): ParsedDoc[] {
  const list = body && typeof body === "object" ? (body as { resources?: unknown }).resources : undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_APPLY_DOCUMENTS) {
    throw new BadResourceError("apply", [
      { path: "resources", message: `must be a list of 1 to ${MAX_APPLY_DOCUMENTS} resources` },
    ]);
  }
  return list.map((doc, i) => {
    const kind = doc && typeof doc === "object" ? (doc as { kind?: unknown }).kind : undefined;
    if (typeof kind !== "string" || !(APPLY_KINDS as readonly string[]).includes(kind)) {
      throw new BadResourceError(`resources[${i}]`, [
        {
          path: "kind",
          message: `${kind === undefined ? "missing" : `unknown kind ${JSON.stringify(kind)}`}: use ${APPLY_KINDS.join(", ")}`,
        },
      ]);
    }
    try {
      return { ...parseDoc(kind as ApplyKind, doc), index: i };
    } catch (e) {
      // The index leads, so a client can name the file and document it came from.
      if (e instanceof BadResourceError) throw new BadResourceError(`resources[${i}] ${e.kind}`, e.problems);
      throw e;
    }
  });
}

/**
 * Refuses a document that leaves out a section the resource it replaces sets (the stored one, or an earlier
 * document of the same kind in the set): an apply replaces the whole resource (`droppedSections`).
 *
 * @throws {BadResourceError} naming the section (and the document's index in a set).
 */
function checkDropped(rollout: RolloutService, docs: readonly ParsedDoc[]): void {
  const stored = rollout.getVersion() as { spec?: Record<string, unknown> };
  let config: AutoupdateConfig | undefined = parseAutoupdateConfig(rollout.getConfig());
  let version: AutoupdateVersion | undefined =
    Object.keys(stored.spec ?? {}).length === 0 ? undefined : parseAutoupdateVersion(stored);
  for (const d of docs) {
    if (d.kind === "server") continue;
    const problems = droppedSections(d.kind === "autoupdate_config" ? config : version, d.raw);
    if (problems.length > 0) {
      throw new BadResourceError(
        d.index === undefined ? d.kind : `resources[${d.index}] ${d.kind}`,
        problems,
      );
    }
    if (d.kind === "autoupdate_config") config = d.config;
    else version = d.version;
  }
}

/** The resource set after the documents, in order (a later document of a kind wins). */
function nextState(docs: readonly ParsedDoc[]) {
  const next: { config?: AutoupdateConfig; version?: AutoupdateVersion; serverVersion?: string } = {};
  for (const d of docs) {
    if (d.kind === "autoupdate_config") next.config = d.config;
    else if (d.kind === "autoupdate_version") next.version = d.version;
    else if (d.serverVersion !== undefined) next.serverVersion = d.serverVersion;
  }
  return next;
}

/**
 * Refuses a set whose versions hosts cannot install from this server: one not in the published manifest,
 * or any when no manifest is published. Only a set that names versions (an autoupdate_version, or a server
 * version that may cap or raise them) is checked: a config change does not change versions.
 *
 * @throws {UpkeepError} E_NOT_IN_MANIFEST (409) listing what is missing and what is published.
 */
export function checkPublished(
  docs: readonly ParsedDoc[],
  plan: PlanAnswers,
  published: string[] | undefined,
  manifestName: string,
) {
  const namesVersions = docs.some(
    (d) => d.kind === "autoupdate_version" || (d.kind === "server" && d.serverVersion !== undefined),
  );
  if (!namesVersions || plan.versions.length === 0) return;
  const force = "or, when hosts download the artifacts from elsewhere, apply with --force (?force=1)";
  if (published === undefined) {
    const named = plan.versions.map((v) => v.version).join(", ");
    throw new UpkeepError(
      "E_NOT_IN_MANIFEST",
      `no release manifest (${manifestName}) is published on this server, so hosts cannot install ${named}: nothing was applied`,
      {
        hint: `publish the releases first (upkeep release manifest, then upkeep admin publish ARTIFACT... with the manifest beside them; a manifest the server cannot read is named in its log), ${force}`,
        exitCode: 1,
      },
    );
  }
  if (plan.unpublished.length === 0) return;
  const missing = plan.unpublished.map((v) => `${v.version} (${v.uses.join("; ")})`).join(", ");
  throw new UpkeepError(
    "E_NOT_IN_MANIFEST",
    `not in the release manifest published on this server: ${missing}; published: ${
      plan.published.length === 0 ? "none" : plan.published.join(", ")
    }; nothing was applied`,
    {
      hint: `publish those releases (upkeep release manifest --add ..., then upkeep admin publish), name a published version, ${force}`,
      exitCode: 1,
    },
  );
}

/** The updater versions a set pins (not `auto` or `off`). */
function pinnedUpdaters(docs: readonly ParsedDoc[]): string[] {
  return docs.flatMap((d) =>
    d.kind === "server" &&
    d.updaterVersion !== undefined &&
    d.updaterVersion !== UPDATER_AUTO &&
    d.updaterVersion !== UPDATER_OFF
      ? [d.updaterVersion]
      : [],
  );
}

/**
 * Refuses an updater version hosts cannot install from this server: one the published upkeep-releases.json
 * does not list (or any, when none is published). `auto` and `off` are always accepted.
 *
 * @throws {UpkeepError} E_NOT_IN_MANIFEST (409).
 */
export function checkUpdaterPublished(docs: readonly ParsedDoc[], published: string[] | undefined): void {
  const missing = pinnedUpdaters(docs).filter((v) => !published?.includes(v));
  if (missing.length === 0) return;
  const name = manifestFileName(SELF_PRODUCT);
  throw new UpkeepError(
    "E_NOT_IN_MANIFEST",
    published === undefined
      ? `no ${name} is published on this server, so agents cannot install upkeep ${missing.join(", ")}: nothing was applied`
      : `updater_version ${missing.join(", ")} is not in the ${name} published on this server (published: ${published.length === 0 ? "none" : published.join(", ")}); nothing was applied`,
    {
      hint: `publish upkeep's release first (upkeep release manifest --product upkeep, then upkeep admin publish), or, when hosts download it from elsewhere, apply with --force (?force=1)`,
      exitCode: 1,
    },
  );
}

const answerView = (a: AnswerPlan) => ({
  version: a.version,
  update: a.update,
  why: a.why,
  adjusted: a.adjusted,
});

/** The plan in the API's snake_case. */
export function planView(plan: PlanAnswers, published: string[] | undefined, now: Date) {
  return {
    now: now.toISOString(),
    groups: plan.groups.map((g) => ({
      group: g.group,
      state: g.state,
      state_reason: g.stateReason,
      next_window_open: g.nextWindowOpen,
      ...answerView(g),
      canary: g.canary ? answerView(g.canary) : null,
    })),
    tools: answerView(plan.tools),
    versions: plan.versions,
    unpublished: plan.unpublished,
    published: published === undefined ? null : plan.published,
  };
}

/**
 * Validates, plans, checks and (unless a dry run) stores the documents in order, then answers the stored
 * results and what each group is told now (dry run: would be told).
 */
export async function applyDocs(
  rollout: RolloutService,
  docs: readonly ParsedDoc[],
  o: ApplyOptions,
  now: () => Date,
): Promise<{ dry_run: boolean; forced: string[]; applied: unknown[]; plan: ReturnType<typeof planView> }> {
  checkDropped(rollout, docs);
  // The manifest as published now (on a CDN or another replica's upload, it may be newer than the last read).
  await rollout.artifactsChanged();
  const published = rollout.publishedVersions();
  const plan = rollout.plan(nextState(docs));
  let forced: string[] = [];
  try {
    checkPublished(docs, plan, published, manifestFileName(String(rollout.serverInfo().product)));
  } catch (e) {
    if (!o.force) throw e;
    forced =
      published === undefined ? plan.versions.map((v) => v.version) : plan.unpublished.map((v) => v.version);
  }
  try {
    checkUpdaterPublished(docs, rollout.publishedUpdaterVersions());
  } catch (e) {
    if (!o.force) throw e;
    forced = [...forced, ...pinnedUpdaters(docs)];
  }
  if (o.dryRun) return { dry_run: true, forced, applied: [], plan: planView(plan, published, now()) };
  const applied: unknown[] = [];
  for (const d of docs) {
    if (d.kind === "autoupdate_config") {
      await rollout.putConfig(d.config);
      applied.push(rollout.getConfig());
    } else if (d.kind === "autoupdate_version") {
      await rollout.putVersion(d.version);
      applied.push(rollout.getVersion());
    } else {
      if (d.serverVersion !== undefined) await rollout.setServerVersion(d.serverVersion);
      if (d.updaterVersion !== undefined) await rollout.setUpdaterVersion(d.updaterVersion);
      applied.push(rollout.serverInfo());
    }
  }
  return {
    dry_run: false,
    forced,
    applied,
    plan: planView(rollout.plan(), rollout.publishedVersions(), now()),
  };
}
