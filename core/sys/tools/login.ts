/** `upkeep tools login`: remember the server, the artifacts' base URL and the trusted release key. */
import { mkdirSync } from "node:fs";
import { isUpkeepError, UpkeepError, UsageError } from "../../errors.ts";
import { sameServer } from "../../tools/same_server.ts";
import type { ToolsState } from "../../tools/types.ts";
import { isValidProduct } from "../../trust/artifact_name.ts";
import { formatPublicKey, keyIdHex, parsePublicKey } from "../../trust/minisign.ts";
import type { FindParse, ToolsAnswer } from "../../wire/parse_find.ts";
import { fetchCapped } from "../install/download.ts";
import { checkUrl } from "../install/mod.ts";
import { loadTrustedKeys } from "../keys.ts";
import type { ExecIo } from "./exec_tool.ts";
import { statePath, toolsDir } from "./paths.ts";
import { fetchFind, toolsAnswerOf } from "./server_answer.ts";
import { readToolsState, updateToolsState } from "./state_store.ts";

type Env = Record<string, string | undefined>;

/** The bare base64 line of a public key, as stored in tools.json and accepted by loadTrustedKeys. */
function bareKey(pk: Parameters<typeof formatPublicKey>[0]): string {
  const lines = formatPublicKey(pk).trim().split("\n");
  return lines[lines.length - 1] as string;
}

export interface LoginInput {
  server: string;
  product: string;
  baseUrl?: string;
  trustKey?: string[];
  insecure?: boolean;
  /** Asks the enrollment question on a terminal; answers true for YES. */
  ask?: (question: string) => Promise<boolean>;
}

export async function login(input: LoginInput, env: Env, io: ExecIo): Promise<ToolsState> {
  const dir = toolsDir(env);
  const server = input.server.replace(/\/+$/, "");
  checkUrl(server, input.insecure === true);
  if (!isValidProduct(input.product))
    throw new UsageError(
      `--product ${JSON.stringify(input.product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
    );
  const { state: old, exists } = readSavedLogin(dir);
  // The same server (compared as URLs, not as strings) keeps what was set up for it: the pinned key, the
  // enrollment answer, a mirror base URL given before.
  const same = exists && sameServer(old.server, server);
  if (input.baseUrl !== undefined) checkUrl(input.baseUrl, input.insecure === true);
  let found: FindParse | undefined;
  let answer: ToolsAnswer | undefined;
  try {
    found = await fetchFind(server, 10_000);
    answer = toolsAnswerOf(found, server);
  } catch (e) {
    // A server not configured yet: the login is kept; the tools follow it once it names a version.
    if (!isUpkeepError(e) || e.code !== "E_NOT_READY") throw e;
    io.warn(`upkeep: ${e.message}; logged in anyway, the client tools follow it once it names one`);
  }
  // The base URL: --base-url, else a mirror given at an earlier login to this server, else where the server
  // says releases are downloaded (serve --artifacts-url), else its /artifacts.
  const serverDefault = found?.artifactsUrl ?? `${server}/artifacts`;
  const mirror =
    same && old.baseUrl && !sameServer(old.baseUrl, `${server}/artifacts`) ? old.baseUrl : undefined;
  const baseUrl = (input.baseUrl ?? mirror ?? serverDefault).replace(/\/+$/, "");
  checkUrl(baseUrl, input.insecure === true);

  const trustKeys = await resolveTrustKeys(input, env, io, {
    baseUrl,
    saved: same && old.product === input.product ? old.trustKeys : [],
  });

  let enrolled = old.enrolled;
  if (!same) {
    enrolled =
      io.tty() && input.ask ? await input.ask("Enroll client tools into automatic updates? [YES/no] ") : true;
  }
  const cache = answer ? { ...answer, fetchedAt: io.now().getTime(), server } : undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written on the file as it is now (under its lock): a pin made meanwhile is kept unless the product or
  // base URL changes. A damaged file is moved aside, named in a warning, and login starts fresh.
  return await updateToolsState(
    dir,
    (cur) => {
      const state: ToolsState = {
        ...cur,
        server,
        product: input.product,
        baseUrl,
        trustKeys,
        enrolled,
        ...(cache ? { cache } : {}),
      };
      if (!cache) delete state.cache;
      delete state.lastCheckFailedAt;
      // Plain http to a remote host is allowed by the flag of this login only.
      if (input.insecure) state.insecure = true;
      else delete state.insecure;
      // Another product or base URL is another release manifest: its serial and versions start afresh.
      if (cur.product !== input.product || !sameServer(cur.baseUrl, baseUrl)) {
        delete state.lastSerial;
        delete state.floor;
        delete state.pinned;
        delete state.refused;
      }
      return state;
    },
    {
      resetSerial: true,
      now: io.now(),
      onDamaged: (aside) =>
        io.warn(`WARNING: ${statePath(dir)} was damaged: moved it aside as ${aside}; starting a fresh login`),
    },
  );
}

/** The saved login; a damaged file counts as none here (login moves it aside when it writes). */
function readSavedLogin(dir: string): { state: ToolsState; exists: boolean } {
  try {
    return readToolsState(dir);
  } catch (e) {
    if (e instanceof UpkeepError && e.code === "E_MALFORMED")
      return { state: { trustKeys: [], enrolled: false }, exists: false };
    throw e;
  }
}

/**
 * The release keys the login trusts, first found: --trust-key, UPKEEP_TOOLS_TRUST_KEY (comma-separated files
 * or base64 keys, as for the other tools commands: the environment beats what was saved), the keys saved at
 * an earlier login to the same server and product, else the key published at <base-url>/<product>.pub
 * (trusted on first use, with a warning naming its key id).
 */
async function resolveTrustKeys(
  input: LoginInput,
  env: Env,
  io: ExecIo,
  where: { baseUrl: string; saved: string[] },
): Promise<string[]> {
  const envKeys = (env.UPKEEP_TOOLS_TRUST_KEY ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (input.trustKey?.length) return (await loadTrustedKeys(input.trustKey)).map(bareKey);
  if (envKeys.length > 0) return (await loadTrustedKeys(envKeys)).map(bareKey);
  if (where.saved.length > 0) return where.saved; // pinned at the first login; the server cannot change it
  const url = `${where.baseUrl}/${input.product}.pub`;
  let text: string;
  try {
    // A public key is one short line: 4 KiB and 10 s are plenty (a hostile base URL cannot stall login).
    const bytes = await fetchCapped(url, 4096, "public key", {
      insecure: input.insecure === true,
      totalMs: 10_000,
    });
    text = new TextDecoder().decode(bytes);
  } catch (e) {
    throw new UpkeepError(
      "E_KEY",
      `no --trust-key given and the published key ${url} cannot be fetched: ${(e as Error).message}`,
      {
        hint: "pass --trust-key PUBFILE (the release engineer's minisign public key) or set UPKEEP_TOOLS_TRUST_KEY; or the operator publishes it: upkeep admin publish --key PUBFILE",
        exitCode: 2,
      },
    );
  }
  const pk = parsePublicKey(text);
  io.warn(
    `WARNING: trusting the release key ${keyIdHex(pk.keyId)} published at ${url} (trust on first use). ` +
      "Check this key id with your release engineer; it is pinned from now on and the server cannot change it.",
  );
  return [bareKey(pk)];
}
