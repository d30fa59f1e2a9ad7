/**
 * A small typed HTTP client of the `upkeep serve` native API (DESIGN §4), for `upkeep admin`.
 *
 * It imports nothing heavy (no Hono, no YAML): `cmd/admin.ts` loads it inside its actions. Every failure is
 * an `UpkeepError` with one actionable line: network problems name the server URL (`E_NETWORK`), refused
 * tokens say which flag to check (`E_UNAUTHORIZED`), and the server's own message is kept for 400/404/409
 * (it names the field path, the group, the conflict). Answers are read within the time limit and at most
 * 16 MiB (MAX_API_ANSWER_BYTES): an endless or dripping answer ends with "larger than" or "timed out".
 */

import { type ErrorCode, UpkeepError, UsageError } from "../core/errors.ts";
import { isLoopbackHost } from "../core/install/url.ts";
import { MAX_API_ANSWER_BYTES, readCapped, Watchdog } from "../core/sys/bounded_http.ts";
import type { Problem } from "../core/validate/problem.ts";
import { readErrorBody } from "../core/wire/error_body.ts";
import type {
  AgentsFilter,
  AgentsPage,
  AgentView,
  ArtifactView,
  GroupAction,
  NewToken,
  ReleasesView,
  ResourceKind,
  ResourceView,
  RolloutView,
  ServerView,
  TokenView,
} from "../core/wire/mod.ts";

/**
 * Default time limit of one API call, its answer included (an upload has none while its bytes go up; its
 * answer then has this long).
 */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ClientOptions {
  /** Base URL of the server, e.g. `https://upkeep.example.com` (a path prefix is kept). */
  server: string;
  /** Bearer token (admin for writes). */
  token?: string;
  /** Allow plain http to a host that is not loopback. */
  insecure?: boolean;
  timeoutMs?: number;
  /** How the flags are called, for error messages. */
  serverFlag?: string;
  tokenFlag?: string;
}

/** A non-2xx answer from the server. */
export class ApiError extends UpkeepError {
  readonly status: number;
  readonly problems: readonly Problem[];
  /** The `code` field of the server's JSON error body, when there is one. */
  readonly serverCode: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    o: {
      status: number;
      problems?: readonly Problem[];
      serverCode?: string;
      hint?: string;
      exitCode?: number;
    },
  ) {
    super(code, message, {
      ...(o.hint === undefined ? {} : { hint: o.hint }),
      ...(o.exitCode === undefined ? {} : { exitCode: o.exitCode }),
    });
    this.name = "ApiError";
    this.status = o.status;
    this.problems = o.problems ?? [];
    this.serverCode = o.serverCode;
  }
}

// The answers' shapes are core/wire's (what server/app.ts and server/views.ts build). Re-exported for
// cmd/admin.ts.
export type { ArtifactView, GroupAction, ReleasesView, RolloutView } from "../core/wire/mod.ts";

/**
 * Parses the server URL and enforces https (plain http only to loopback, or with `insecure`).
 *
 * @throws {UsageError} naming the flag for anything else.
 */
export function checkServerUrl(raw: string, insecure: boolean, flag = "--server"): URL {
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== "https:" && u.protocol !== "http:")) {
    throw new UsageError(`${flag} ${JSON.stringify(raw)}: not an http(s) URL`, {
      hint: "e.g. https://upkeep.example.com, or http://127.0.0.1:8080 on the server itself",
    });
  }
  if (u.username || u.password) {
    throw new UsageError(`${flag}: do not put credentials in the URL`, {
      hint: "pass the token with --token or UPKEEP_TOKEN",
    });
  }
  if (u.protocol === "http:" && !insecure && !isLoopbackHost(u.hostname)) {
    throw new UsageError(
      `${flag} ${u.origin}: refusing plain http to a host that is not loopback (the token would travel in clear)`,
      { hint: "use https://, or pass --insecure if this network is trusted" },
    );
  }
  u.search = "";
  u.hash = "";
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

/** One line for a fetch failure: `connection refused`, `host not found`, a TLS problem... */
function networkReason(e: unknown, timeoutMs: number | undefined): string {
  const err = e as { name?: string; code?: string; message?: string } | undefined;
  const code = String(err?.code ?? "");
  if (err?.name === "TimeoutError") return `no answer within ${Math.round((timeoutMs ?? 0) / 1000)}s`;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_AGAIN") return "host not found (DNS)";
  if (code === "ECONNRESET" || code === "ConnectionClosed" || code === "EPIPE")
    return "the connection was closed by the server";
  if (code === "ETIMEDOUT") return "connection timed out";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "host unreachable";
  if (/CERT|TLS|SSL|SELF_SIGNED|ALTNAME/i.test(code)) return `TLS certificate not accepted (${code})`;
  const msg = String(err?.message ?? e).split("\n")[0] ?? "";
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

const KNOWN_400_CODES = new Set<string>(["E_BAD_RESOURCE", "E_MALFORMED", "E_USAGE", "E_BAD_VERSION"]);

interface RequestOptions {
  body?: string | Blob;
  contentType?: string;
  /** No time limit (uploads). */
  noTimeout?: boolean;
}

export class ApiClient {
  readonly base: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #tokenFlag: string;

  constructor(o: ClientOptions) {
    this.base = checkServerUrl(o.server, o.insecure ?? false, o.serverFlag);
    this.#token = o.token === "" ? undefined : o.token;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tokenFlag = o.tokenFlag ?? "--token / UPKEEP_TOKEN";
  }

  /** The server's origin and path prefix, without a trailing slash (for messages). */
  get serverText(): string {
    return this.base.href.replace(/\/+$/, "");
  }

  url(path: string): URL {
    return new URL(path.replace(/^\/+/, ""), this.base);
  }

  /** Sends one request and returns the parsed JSON body of a 2xx answer; throws ApiError otherwise. */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = this.url(path);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (o.contentType) headers["content-type"] = o.contentType;
    const watchdog = new Watchdog({
      idleMs: 0,
      ...(o.noTimeout ? {} : { totalMs: this.#timeoutMs }),
    });
    let res: Response;
    let text: string;
    try {
      try {
        res = await fetch(url, {
          method,
          headers,
          ...(o.body === undefined ? {} : { body: o.body }),
          // A redirect could carry the token elsewhere: follow none, say where it pointed.
          redirect: "manual",
          signal: watchdog.signal,
        });
      } catch (e) {
        throw new UpkeepError(
          "E_NETWORK",
          `cannot reach ${this.serverText}: ${watchdog.timedOut ? watchdog.why(e) : networkReason(e, this.#timeoutMs)}`,
          {
            cause: e,
            hint: "check --server / UPKEEP_SERVER and that `upkeep serve` is running there",
          },
        );
      }
      if (o.noTimeout) watchdog.limit(this.#timeoutMs);
      const bytes = await readCapped(res, {
        url: `${method} ${url.pathname}`,
        max: MAX_API_ANSWER_BYTES,
        watchdog,
        tooLarge: (max) =>
          new ApiError("E_SERVER", `${method} ${url.pathname}: the server's answer is larger than ${max}`, {
            status: res.status,
            hint: `is ${this.serverText} an upkeep server?`,
          }),
      }).catch((e: unknown) => {
        if (e instanceof ApiError) throw e;
        throw new UpkeepError("E_NETWORK", (e as Error).message, {
          cause: e,
          hint: `the answer from ${this.serverText} did not come through; try again`,
        });
      });
      text = new TextDecoder().decode(bytes);
    } finally {
      watchdog.dispose();
    }
    if (res.status >= 300 && res.status < 400) {
      const where = res.headers.get("location") ?? "(no location)";
      throw new ApiError("E_SERVER", `${method} ${url.pathname}: the server redirected to ${where}`, {
        status: res.status,
        hint: "point --server / UPKEEP_SERVER at the final URL (redirects are not followed with a token)",
      });
    }
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok) {
      if (body === undefined) {
        throw new ApiError(
          "E_SERVER",
          `${method} ${url.pathname}: the server answered ${res.status} without JSON`,
          {
            status: res.status,
            hint: `is ${this.serverText} an upkeep server?`,
          },
        );
      }
      return body as T;
    }
    throw this.#error(method, url, res.status, body, text);
  }

  #error(method: string, url: URL, status: number, body: unknown, text: string): ApiError {
    // Teleport's shape `{"error": {"message"}}` (this server's), or the flat `{"error": "..."}` of older ones.
    const b = readErrorBody(body);
    const serverMessage = b.message ?? (text.trim().split("\n")[0]?.slice(0, 200) || `HTTP ${status}`);
    const serverCode = b.code;
    const problems: Problem[] = b.problems;
    const serverHint = b.hint;
    const common = {
      status,
      problems,
      ...(serverCode === undefined ? {} : { serverCode }),
      ...(serverHint === undefined ? {} : { hint: serverHint }),
    };
    switch (status) {
      case 400:
        return new ApiError(
          serverCode && KNOWN_400_CODES.has(serverCode) ? (serverCode as ErrorCode) : "E_BAD_RESOURCE",
          serverMessage,
          { hint: "fix what the server named and try again", ...common, exitCode: 2 },
        );
      case 401:
        return this.#token
          ? new ApiError("E_UNAUTHORIZED", `the token was refused: check ${this.#tokenFlag}`, {
              ...common,
              hint: `${this.serverText} said: ${serverMessage}`,
            })
          : new ApiError(
              "E_UNAUTHORIZED",
              `${method} ${url.pathname} needs a token: set ${this.#tokenFlag}`,
              {
                ...common,
                hint: "the admin token was printed once when the server first started (or UPKEEP_ADMIN_TOKEN there)",
              },
            );
      case 403:
        // A known token of another kind (a viewer token for a write): the server names the kind needed.
        return new ApiError("E_UNAUTHORIZED", serverMessage, {
          ...common,
          hint: `use an admin token in ${this.#tokenFlag} (admin tokens add --type viewer makes read-only ones)`,
        });
      case 503:
        // serve refuses writes when its database file is gone or replaced: its message names the file.
        return new ApiError(
          "E_SERVER",
          `${method} ${url.pathname}: the server answered 503: ${serverMessage}`,
          {
            ...common,
            hint: "see the server's log; restore the database file and restart serve",
          },
        );
      case 404:
        return new ApiError("E_NOT_FOUND", serverMessage, common);
      case 409:
        return new ApiError("E_CONFLICT", serverMessage, common);
      case 413:
        return new ApiError("E_SIZE", serverMessage, { ...common, exitCode: 2 });
      default:
        return new ApiError(
          "E_SERVER",
          `${method} ${url.pathname}: the server answered ${status}: ${serverMessage}`,
          { hint: "see the server's log", ...common },
        );
    }
  }

  #json<T>(method: string, path: string, body: unknown): Promise<T> {
    return this.request<T>(method, path, { body: JSON.stringify(body), contentType: "application/json" });
  }

  // ---- resources ----

  getResource(kind: ResourceKind): Promise<ResourceView> {
    return this.request("GET", `/v1/resources/${kind}`);
  }

  /** PUT a resource document (a JSON value; the server validates and answers the stored form). */
  putResource(kind: ResourceKind, doc: unknown): Promise<ResourceView> {
    return this.#json("PUT", `/v1/resources/${kind}`, doc);
  }

  getServer(): Promise<ServerView> {
    return this.request("GET", "/v1/server");
  }

  putServerVersion(serverVersion: string): Promise<ServerView> {
    return this.#json("PUT", "/v1/server", { server_version: serverVersion });
  }

  // ---- rollout ----

  getRollout(): Promise<RolloutView> {
    return this.request("GET", "/v1/rollout");
  }

  rolloutAction(group: string, action: GroupAction): Promise<RolloutView> {
    return this.request("POST", `/v1/rollout/groups/${encodeURIComponent(group)}/${action}`);
  }

  // ---- agents, releases, tokens ----

  /** One page of agents matching the filters; a server older than pages answers every agent, no `total`. */
  getAgents(q: AgentsFilter = {}): Promise<AgentsPage | { agents: AgentView[]; total?: undefined }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.request("GET", `/v1/agents${qs ? `?${qs}` : ""}`);
  }

  getReleases(): Promise<ReleasesView> {
    return this.request("GET", "/v1/releases");
  }

  setCritical(version: string, critical: boolean): Promise<ReleasesView> {
    return this.#json("POST", "/v1/releases", { version, critical });
  }

  listTokens(): Promise<{ tokens: TokenView[] }> {
    return this.request("GET", "/v1/tokens");
  }

  revokeToken(id: string): Promise<{ revoked: Omit<TokenView, "created"> }> {
    return this.request("DELETE", `/v1/tokens/${encodeURIComponent(id)}`);
  }

  addToken(type: string, name?: string): Promise<NewToken> {
    return this.#json("POST", "/v1/tokens", name === undefined ? { type } : { type, name });
  }

  /** Streams a file from disk to `PUT /v1/artifacts/NAME` (never read whole into memory). */
  uploadArtifact(name: string, path: string): Promise<ArtifactView> {
    return this.request("PUT", `/v1/artifacts/${encodeURIComponent(name)}`, {
      body: Bun.file(path),
      contentType: "application/octet-stream",
      noTimeout: true,
    });
  }
}
