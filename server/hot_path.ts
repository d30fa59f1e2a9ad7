/**
 * find/ping without the router (`cmd/serve` puts these routes before Hono): the query read by hand, the
 * precomputed body answered, the request counted as the router would count it.
 */
import { FIND_PATHS } from "./app.ts";
import type { Metrics } from "./metrics.ts";
import type { RolloutService } from "./rollout_service.ts";

type Handler = (req: Request) => Response;

/** `group` and `updater_id` of a find URL (`""` when absent or not decodable). */
function findQuery(url: string): { group: string; updater: string } {
  const out = { group: "", updater: "" };
  const q = url.indexOf("?");
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k !== "group" && k !== "updater_id") continue;
    let v = eq < 0 ? "" : part.slice(eq + 1);
    if (v.includes("%") || v.includes("+")) {
      try {
        v = decodeURIComponent(v.replaceAll("+", " "));
      } catch {
        v = "";
      }
    }
    if (k === "group") out.group = v;
    else out.updater = v;
  }
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
  return Object.fromEntries(FIND_PATHS.map((p) => [p, { GET: hot }]));
}
