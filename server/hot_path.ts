/**
 * find/ping without the router (`cmd/serve` puts these routes before Hono): the query read by hand, the
 * precomputed body answered, the request counted as the router would count it. Also the answers derived from
 * the same bodies that go through the router (server/app.ts): RFD 109's channel version and criticality.
 */
import { errorBody, INTERNAL_ERROR_REASON } from "../core/wire/mod.ts";
import type { Metrics } from "./metrics.ts";
import type { RolloutService } from "./rollout_service.ts";

type Handler = (req: Request) => Response;

/** Teleport's find/ping paths (also answered by the router, server/app.ts, with the same bodies). */
export const FIND_PATHS = ["/webapi/find", "/v1/webapi/find", "/webapi/ping", "/v1/webapi/ping"] as const;

/** Teleport's ping with an SSO connector's name (`webclient.Ping` with ConnectorName): answered as ping. */
export const PING_CONNECTOR_PATHS = ["/webapi/ping/:connector", "/v1/webapi/ping/:connector"] as const;

/**
 * RFD 109 (Teleport's v1 agent updaters): `.../channel/<channel>/version` and `.../channel/<channel>/critical`,
 * the channel being a group (`/` allowed in it, as Teleport allows).
 */
export const RFD109_PATHS = [
  "/webapi/automaticupgrades/channel/*",
  "/v1/webapi/automaticupgrades/channel/*",
] as const;

/**
 * `group` and the updater id of a find URL (`""` when absent or not decodable). The updater id is upkeep's
 * `updater_id`, or Teleport's `update_id` (AgentUpdateIDParameter in api/client/webclient: what
 * `teleport-update` sends since 17.7); `updater_id` wins when both are given.
 */
export function findQuery(url: string): { group: string; updater: string } {
  const out = { group: "", updater: "" };
  let teleportId = "";
  const q = url.indexOf("?");
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k !== "group" && k !== "updater_id" && k !== "update_id") continue;
    let v = eq < 0 ? "" : part.slice(eq + 1);
    if (v.includes("%") || v.includes("+")) {
      try {
        v = decodeURIComponent(v.replaceAll("+", " "));
      } catch {
        v = "";
      }
    }
    if (k === "group") out.group = v;
    else if (k === "updater_id") out.updater = v;
    else teleportId = v;
  }
  if (out.updater === "") out.updater = teleportId;
  return out;
}

/** The `routes` of `Bun.serve` for every find/ping path. */
export function hotRoutes(rollout: RolloutService, metrics: Metrics): Record<string, { GET: Handler }> {
  const requests = metrics.counter("upkeep_http_requests_total", "HTTP requests by route and status", {
    route: "/webapi/find",
    method: "GET",
    status: "200",
  });
  const init = { headers: { "content-type": "application/json" } };
  const hot: Handler = (req) => {
    const { group, updater } = findQuery(req.url);
    requests.value++;
    return new Response(rollout.findBody(group, updater), init);
  };
  return Object.fromEntries([...FIND_PATHS, ...PING_CONNECTOR_PATHS].map((p) => [p, { GET: hot }]));
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

/**
 * The RFD 109 answer for a request URL whose path is under `.../automaticupgrades/channel/`: `version` is `v<version>`
 * (`none` while the server names none), `critical` is `yes` when an agent of that group is told to update
 * now, else `no` (what Teleport answers with an agent rollout). The group is the channel, an unknown one
 * being the last group, and the answer is the find answer's: the same decisions. A path that names no
 * channel, or neither answer, is a 400; a find answer that could not be decided a 500.
 */
export function rfd109Answer(rollout: RolloutService, url: string): Response {
  const pathname = new URL(url).pathname;
  const at = pathname.indexOf("/automaticupgrades/channel/");
  const rest = at < 0 ? "" : pathname.slice(at + "/automaticupgrades/channel/".length);
  let parts: string[];
  try {
    parts = decodeURIComponent(rest)
      .replace(/^\/+|\/+$/g, "")
      .split("/");
  } catch {
    parts = [];
  }
  const kind = parts.pop();
  const channel = parts.join("/");
  const refuse = (message: string) => Response.json(errorBody(message, { code: "E_USAGE" }), { status: 400 });
  if (kind !== "version" && kind !== "critical")
    return refuse(
      "the path must be /v1/webapi/automaticupgrades/channel/<channel>/version or .../<channel>/critical",
    );
  if (channel === "") return refuse(`a channel name is required: .../channel/<channel>/${kind}`);
  const body = JSON.parse(rollout.findBody(channel, "")) as {
    auto_update: { agent_version: string; agent_auto_update: boolean };
    upkeep: { error?: boolean };
  };
  if (body.upkeep.error === true)
    return Response.json(errorBody(INTERNAL_ERROR_REASON, { code: "E_INTERNAL" }), { status: 500 });
  const { agent_version, agent_auto_update } = body.auto_update;
  if (kind === "critical") return new Response(agent_auto_update ? "yes" : "no", { headers: TEXT });
  return new Response(agent_version === "" ? "none" : `v${agent_version}`, { headers: TEXT });
}
